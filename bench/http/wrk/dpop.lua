-- Client credentials with a DPoP proof (RFC 9449 §4.2, §5): every request carries a new
-- proof in its DPoP header, each jti being single-use. The pool (BENCH_PROOF_FILE, one
-- signed proof a line, made by `bench-driver proofs`) is split between the BENCH_THREADS
-- threads; each request takes the next unspent one. Needs BENCH_PATH, BENCH_AUTH and
-- BENCH_BODY (see common.lua).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
bench_request()

local next_id = 0
function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
end

local pool, used, spent = {}, 0, ""

function init(args)
   pool = thread_lines(os.getenv("BENCH_PROOF_FILE"), id)
end

function request()
   if used < #pool then
      used = used + 1
      spent = pool[used]
      pool[used] = nil
   end
   -- When the pool ran dry the last proof is sent again: the server refuses the replay
   -- (an error in the count) rather than the load stopping.
   wrk.headers["DPoP"] = spent
   return wrk.format()
end
