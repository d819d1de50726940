-- wrk script: POST a JSON body to the service. BODY_FILE is the body; API_KEY, when set, is the bearer key.
-- Every non-2xx answer is counted and reported ("Non-2xx or 3xx responses" in wrk's summary).
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("API_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
