-- wrk: POST /v1/fetch:capitalize with a 100-byte payload (base64 in JSON),
-- the same call as cqmux-load --scenario=capitalize --payload-bytes=100.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"id":1,"data":"' .. string.rep("YWJj", 33) .. 'YQ=="}'
