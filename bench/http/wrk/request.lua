-- One fixed request, described by the environment (see common.lua): client credentials,
-- introspection, UserInfo, the ceiling.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
bench_request()
