-- wrk script for bench/ingress/run: every request is a distinct, realistic Cleeng webhook
-- (subscriptionReadyForPaymentAuthorisation or ...Capture), so every request makes a new job.
--
-- Like real renewals, the events are for existing subscriptions: ids spread over the same
-- 3,000,000 numeric ids bench/history/run seeds its history with, so that with a history each new
-- event's key and subscription land at random places in the large jobs indexes, next to that
-- subscription's earlier events, as in production (not in a region of their own at one end).
-- What makes each event distinct is its dunning date: one second apart per (thread, counter), from
-- a base that differs per run (a hash of the run's prefix), so runs do not repeat each other.

local run_prefix = os.getenv("PAYORCH_BENCH_PREFIX") or tostring(os.time())
local subscriptions = 3000000
local first_subscription = 100000000
-- 2028-01-01T00:00:00Z plus up to about 30 years, from the run prefix (a 31-bit string hash).
local run_base = 1830297600
for i = 1, #run_prefix do run_base = (run_base * 31 + run_prefix:byte(i)) % 2147483647 end
run_base = 1830297600 + (run_base % 100000) * 10000
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
  -- A stride coprime with the id range visits the ids in a scattered order.
  local subscription = first_subscription + (thread_id * 1000003 + counter * 7919) % subscriptions
  local dunning = os.date("!%Y-%m-%dT%H:%M:%SZ", run_base + counter * 16 + thread_id)
  local body = string.format(
    '{"broadcasterId":123456789,"topic":"%s","data":{"subscriptionId":"%d",' ..
    '"offerId":"S531234647_US","customerId":%d,"customerEmail":"user%d@example.com",' ..
    '"paymentDetailsId":%d,"paymentMethodId":123123123,"paymentGateway":"%s",' ..
    '"dunningAttemptDate":"%s","dunningStatus":"pending","currency":"USD",' ..
    '"paymentCountry":"US","token":"tok_%d_%d"}}',
    topics[counter % 2 + 1], subscription, 900000000 + counter, counter, 700000 + counter,
    gateways[counter % 3 + 1], dunning, thread_id, counter)
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
