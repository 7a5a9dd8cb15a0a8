-- bench_http.lua - wrk script for tools/bench_http.sh and tools/bench_load.sh:
-- sends pre-built JSON bodies (one JSON text per line of BODIES) to PATH
-- with METHOD (default POST), cycling through them, over wrk's keep-alive
-- connections, and counts the responses that are not 200.
--
--   wrk -t2 -c8 -d10s -s tools/bench_http.lua http://127.0.0.1:PORT -- BODIES PATH [METHOD]
--
-- Every request is formatted once in init, so the loop only hands wrk a
-- ready string; each wrk thread starts at a different offset so the threads
-- do not send the same query at the same moment. At the end it prints
-- "non-200: N" and the first statuses seen (wrk's own "Non-2xx" line
-- counts 3xx as success; a benchmark that claims no errors checks this).

local counter = 0
local threads = {}

function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
    threads[#threads + 1] = thread
end

local reqs = {}
local i = 0
bad = 0
bad_statuses = ""

function init(args)
    local file, path, method = args[1], args[2], args[3] or "POST"
    local headers = { ["Content-Type"] = "application/json" }
    for line in io.lines(file) do
        reqs[#reqs + 1] = wrk.format(method, path, headers, line)
    end
    if #reqs == 0 then
        error("bench_http.lua: no bodies in " .. file)
    end
    i = (id * 997) % #reqs
end

function request()
    i = i % #reqs + 1
    return reqs[i]
end

function response(status, headers, body)
    if status ~= 200 then
        bad = bad + 1
        if #bad_statuses < 60 then
            bad_statuses = bad_statuses .. " " .. status
        end
    end
end

function done(summary, latency, requests)
    local n, seen = 0, ""
    for _, t in ipairs(threads) do
        n = n + t:get("bad")
        seen = seen .. t:get("bad_statuses")
    end
    io.write(string.format("non-200: %d%s\n", n, n > 0 and (" (first:" .. seen .. ")") or ""))
    io.write(string.format("latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
        latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000))
end
