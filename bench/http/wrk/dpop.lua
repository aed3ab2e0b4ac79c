-- Client credentials with a DPoP proof (RFC 9449 §4.2, §5): every request carries a new
-- proof in its DPoP header, each jti being single-use. The pool (BENCH_PROOF_FILE, one
-- signed proof a line, made by `bench-driver proofs`) is split between the BENCH_THREADS
-- threads; each request takes the next unspent one (single_use). Needs BENCH_PATH,
-- BENCH_AUTH and BENCH_BODY (see common.lua).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
bench_request()
number_threads()

local next_proof

function init(args)
   next_proof = single_use(os.getenv("BENCH_PROOF_FILE"), id)
end

function request()
   wrk.headers["DPoP"] = next_proof()
   return wrk.format()
end
