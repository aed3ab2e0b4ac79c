-- Shared by the HTTP benchmark's wrk scripts (bench/http/run): the request comes from the
-- environment, and done() prints one machine-readable line (latencies in microseconds).
--   BENCH_METHOD  GET or POST                     BENCH_PATH  the endpoint's path
--   BENCH_AUTH    the Authorization header value  BENCH_BODY  a form body (POST)

function bench_request()
   wrk.method = os.getenv("BENCH_METHOD") or "GET"
   wrk.path = os.getenv("BENCH_PATH") or "/"
   local auth = os.getenv("BENCH_AUTH")
   if auth and auth ~= "" then
      wrk.headers["Authorization"] = auth
   end
   local body = os.getenv("BENCH_BODY")
   if body and body ~= "" then
      wrk.body = body
      wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   end
end

-- Numbers the threads 0, 1, … : each thread's script sees its number as `id` (wrk's setup).
function number_threads()
   local next_id = 0
   function setup(thread)
      thread:set("id", next_id)
      next_id = next_id + 1
   end
end

-- A function handing out requests made from this thread's share of the single-use lines of
-- the file `path` (thread_lines), each once. Each line is made into a whole request by
-- `format` (which returns wrk.format(…)) here, in init, so that a request costs wrk a table
-- read rather than building it anew: the load generator shares the machine's cores with the
-- server under test, and what it spends per request is taken from the server. When they
-- ran out it hands out the last again: the server refuses the replay (an error in the
-- count) rather than the load stopping.
function single_use_requests(path, id, format)
   local lines = thread_lines(path, id)
   for i = 1, #lines do
      lines[i] = format(lines[i])
   end
   local used, spent = 0, ""
   return function()
      if used < #lines then
         used = used + 1
         spent = lines[used]
         lines[used] = nil
      end
      return spent
   end
end

-- This thread's share of the non-empty lines of the file `path`: every `threads`-th line
-- from the `id`-th (0-based), so the threads never send the same line.
function thread_lines(path, id)
   local threads = tonumber(os.getenv("BENCH_THREADS"))
   local mine, i = {}, 0
   for line in io.lines(path) do
      if line ~= "" then
         if i % threads == id then
            mine[#mine + 1] = line
         end
         i = i + 1
      end
   end
   return mine
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d socket_errors=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.status, e.connect + e.read + e.write + e.timeout))
end
