-- bench_http.lua - wrk script for tools/bench_http.sh: POSTs pre-built
-- search bodies (one JSON text per line of BODIES) to PATH, cycling through
-- them, over wrk's keep-alive connections.
--
--   wrk -t2 -c8 -d10s -s tools/bench_http.lua http://127.0.0.1:PORT -- BODIES PATH
--
-- Every request is formatted once in init, so the loop only hands wrk a
-- ready string; each wrk thread starts at a different offset so the threads
-- do not send the same query at the same moment.

local counter = 0

function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
end

local reqs = {}
local i = 0

function init(args)
    local file, path = args[1], args[2]
    local headers = { ["Content-Type"] = "application/json" }
    for line in io.lines(file) do
        reqs[#reqs + 1] = wrk.format("POST", path, headers, line)
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
