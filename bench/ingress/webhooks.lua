-- wrk script for bench/ingress/run: every request is a distinct, realistic Cleeng webhook
-- (subscriptionReadyForPaymentAuthorisation or ...Capture), so every request makes a new job.
-- Keys are unique across threads and runs (a per-run prefix, a thread number and a counter).

local run_prefix = os.getenv("PAYORCH_BENCH_PREFIX") or tostring(os.time())
local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local topics = { "subscriptionReadyForPaymentAuthorisation", "subscriptionReadyForPaymentCapture" }
local gateways = { "adyen", "stripe", "checkout" }

function request()
  counter = counter + 1
  local subscription = string.format("%s-%d-%d", run_prefix, thread_id, counter)
  local body = string.format(
    '{"broadcasterId":123456789,"topic":"%s","data":{"subscriptionId":"%s",' ..
    '"offerId":"S531234647_US","customerId":%d,"customerEmail":"user%d@example.com",' ..
    '"paymentDetailsId":%d,"paymentMethodId":123123123,"paymentGateway":"%s",' ..
    '"dunningAttemptDate":"2026-11-04T19:55:41Z","dunningStatus":"pending","currency":"USD",' ..
    '"paymentCountry":"US","token":"tok_%d_%d"}}',
    topics[counter % 2 + 1], subscription, 900000000 + counter, counter, 700000 + counter,
    gateways[counter % 3 + 1], thread_id, counter)
  return wrk.format(nil, wrk.path, nil, body)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.timeout + summary.errors.status
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d\n",
    summary.requests, seconds, summary.requests / seconds, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000, errors))
end
