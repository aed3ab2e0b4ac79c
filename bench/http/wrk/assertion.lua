-- Client credentials with private_key_jwt (RFC 7523 §2.2): every request carries a new
-- client assertion, each jti being single-use. The pool (BENCH_ASSERTION_FILE, one signed
-- assertion a line, made by `bench-driver assertions`) is split between the BENCH_THREADS
-- threads; each request takes the next unspent one (single_use). Needs BENCH_PATH and
-- BENCH_BODY, the form without the assertion (see common.lua).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
bench_request()
number_threads()

local next_assertion
local prefix = os.getenv("BENCH_BODY")
   .. "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
   .. "&client_assertion="

function init(args)
   next_assertion = single_use(os.getenv("BENCH_ASSERTION_FILE"), id)
end

function request()
   return wrk.format(nil, nil, nil, prefix .. next_assertion())
end
