-- Refresh-token grants with rotation (RFC 6749 §6, RFC 9700 §4.14.2): every response
-- carries a new refresh token, the old one being spent, so each thread keeps a queue of
-- unspent tokens: a request takes the oldest, its response puts the new one back. The pool
-- (BENCH_REFRESH_FILE, one token a line, minted by `bench-driver prime`) is split between
-- the BENCH_THREADS threads, and must hold more tokens than connections: each connection
-- has at most one in flight. Needs BENCH_PATH and BENCH_AUTH (see common.lua).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
bench_request()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

number_threads()

local queue, first, last = {}, 1, 0
local spent = nil

function init(args)
   queue = thread_lines(os.getenv("BENCH_REFRESH_FILE"), id)
   last = #queue
end

function request()
   local token
   if first <= last then
      token = queue[first]
      queue[first] = nil
      first = first + 1
      spent = token
   else
      -- The queue ran dry (a lost response): resend the last token; the server refuses
      -- it (an error in the count) rather than the load stopping.
      token = spent
   end
   return wrk.format(nil, nil, nil,
      "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
   if status == 200 then
      local token = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
      if token then
         last = last + 1
         queue[last] = token
      end
   end
end
