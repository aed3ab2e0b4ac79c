-- Client credentials with private_key_jwt (RFC 7523 §2.2): every request carries a new
-- client assertion, each jti being single-use. The pool (BENCH_ASSERTION_FILE, one signed
-- assertion a line, made by `bench-driver assertions`) is split between the BENCH_THREADS
-- threads; each request is the next unspent one, formatted in init (single_use_requests).
-- Needs BENCH_PATH and
-- BENCH_BODY, the form without the assertion (see common.lua).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
bench_request()
number_threads()

local next_request
local prefix = os.getenv("BENCH_BODY")
   .. "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
   .. "&client_assertion="

function init(args)
   next_request = single_use_requests(os.getenv("BENCH_ASSERTION_FILE"), id, function(assertion)
      return wrk.format(nil, nil, nil, prefix .. assertion)
   end)
end

function request()
   return next_request()
end
