-- Client credentials with a DPoP proof (RFC 9449 §4.2, §5): every request carries a new
-- proof in its DPoP header, each jti being single-use. The pool (BENCH_PROOF_FILE, one
-- signed proof a line, made by `bench-driver proofs`) is split between the BENCH_THREADS
-- threads; each request is the next unspent one, formatted in init (single_use_requests).
-- Needs BENCH_PATH, BENCH_AUTH and BENCH_BODY (see common.lua).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
bench_request()
number_threads()

local next_request

function init(args)
   next_request = single_use_requests(os.getenv("BENCH_PROOF_FILE"), id, function(proof)
      wrk.headers["DPoP"] = proof
      return wrk.format()
   end)
end

function request()
   return next_request()
end
