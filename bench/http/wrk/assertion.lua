-- Client credentials with private_key_jwt (RFC 7523 §2.2): every request carries a new
-- client assertion, each jti being single-use. The pool (BENCH_ASSERTION_FILE, one signed
-- assertion a line, made by `bench-driver assertions`) is split between the BENCH_THREADS
-- threads; each request takes the next unspent one. Needs BENCH_PATH and BENCH_BODY, the
-- form without the assertion (see common.lua).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
bench_request()

local next_id = 0
function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
end

local pool, used, spent = {}, 0, ""
local prefix = os.getenv("BENCH_BODY")
   .. "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
   .. "&client_assertion="

function init(args)
   pool = thread_lines(os.getenv("BENCH_ASSERTION_FILE"), id)
end

function request()
   if used < #pool then
      used = used + 1
      spent = pool[used]
      pool[used] = nil
   end
   -- When the pool ran dry the last assertion is sent again: the server refuses the replay
   -- (an error in the count) rather than the load stopping.
   return wrk.format(nil, nil, nil, prefix .. spent)
end
