-- wrk script: mint a short-lived readonly token with a refreshable Bearer token (the
-- Authorization header comes from wrk's -H); prints p99.9 and max at the end.
dofile("tools/load/latency.lua")
wrk.method = "POST"
wrk.body = '{"scope":"readonly","duration":{"d_us":60000000}}'
wrk.headers["Content-Type"] = "application/json"
