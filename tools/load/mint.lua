-- wrk script: mint a short-lived readonly token with a refreshable Bearer token (the
-- Authorization header comes from wrk's -H).
wrk.method = "POST"
wrk.body = '{"scope":"readonly","duration":{"d_us":60000000}}'
wrk.headers["Content-Type"] = "application/json"
