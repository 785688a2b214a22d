#include "services/worker/adapters_config.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <type_traits>

namespace payorch::worker {
namespace {

// The first problem found; thrown inside the parser only, returned as the Result's error.
struct Invalid {
  std::string message;
};

std::string Child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

[[noreturn]] void Fail(const YAML::Node& node, const std::string& path, const std::string& what) {
  std::string where = path.empty() ? "top level" : path;
  if (node.IsDefined() && node.Mark().line >= 0) {
    where += " (line " + std::to_string(node.Mark().line + 1) + ")";
  }
  throw Invalid{where + ": " + what};
}

std::string Joined(std::initializer_list<const char*> names) {
  std::string out;
  for (const char* name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

// `node` must be a mapping whose keys are scalars among `known`, each at most once.
void CheckMapping(const YAML::Node& node, const std::string& path,
                  std::initializer_list<const char*> known) {
  if (!node.IsMap()) Fail(node, path, "must be a mapping");
  std::set<std::string> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) Fail(entry.first, path, "keys must be plain names");
    const std::string key = entry.first.Scalar();
    bool is_known = false;
    for (const char* name : known) is_known = is_known || key == name;
    if (!is_known) Fail(entry.first, Child(path, key), "unknown key (known: " + Joined(known) + ")");
    if (!seen.insert(key).second) Fail(entry.first, Child(path, key), "repeated key");
  }
}

std::string Text(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar() || node.Scalar().empty()) Fail(node, path, "must be a non-empty string");
  return node.Scalar();
}

std::int64_t Integer(const YAML::Node& node, const std::string& path, std::int64_t min,
                     std::int64_t max) {
  const std::string range = "must be an integer from " + std::to_string(min) + " to " +
                            std::to_string(max);
  if (!node.IsScalar()) Fail(node, path, range);
  const std::string& text = node.Scalar();
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    Fail(node, path, range + ", got \"" + text + "\"");
  }
  return value;
}

// Sets `out` (an int or milliseconds) from the integer at `key` of `node`, when the key is there.
template <typename Out>
void SetIfPresent(const YAML::Node& node, const std::string& path, const char* key,
                  std::int64_t min, std::int64_t max, Out& out) {
  if (!node[key].IsDefined()) return;
  const std::int64_t value = Integer(node[key], Child(path, key), min, max);
  if constexpr (std::is_same_v<Out, std::chrono::milliseconds>) {
    out = std::chrono::milliseconds(value);
  } else {
    out = static_cast<Out>(value);
  }
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string Resolve(const std::string& base_dir, const std::string& file) {
  if (file.empty() || base_dir.empty() || std::filesystem::path(file).is_absolute()) return file;
  return (std::filesystem::path(base_dir) / file).lexically_normal().string();
}

RetryPolicy ParseRetry(const YAML::Node& node, const std::string& path) {
  CheckMapping(node, path, {"max_attempts", "backoff_base_ms", "backoff_max_ms"});
  RetryPolicy retry;
  SetIfPresent(node, path, "max_attempts", 1, 1000, retry.max_attempts);
  SetIfPresent(node, path, "backoff_base_ms", 0, 86400000, retry.base_delay);
  SetIfPresent(node, path, "backoff_max_ms", 0, 86400000, retry.max_delay);
  if (retry.max_delay < retry.base_delay) {
    Fail(node, path, "backoff_max_ms (" + std::to_string(retry.max_delay.count()) +
                         ") must be at least backoff_base_ms (" +
                         std::to_string(retry.base_delay.count()) + ")");
  }
  return retry;
}

BreakerPolicy ParseBreaker(const YAML::Node& node, const std::string& path) {
  CheckMapping(node, path, {"failures", "probe_ms"});
  BreakerPolicy breaker;
  SetIfPresent(node, path, "failures", 1, 100000, breaker.failure_threshold);
  SetIfPresent(node, path, "probe_ms", 1, 3600000, breaker.probe_interval);
  return breaker;
}

std::string FileContents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

core::GrpcClientTls ParseTls(const YAML::Node& node, const std::string& path,
                             const std::string& base_dir, std::string& material) {
  // `tls: {}` is TLS with the system's roots; any tls mapping turns TLS on.
  if (node.IsNull()) Fail(node, path, "must be a mapping (use tls: {} for TLS with system roots)");
  CheckMapping(node, path, {"ca_file", "cert_file", "key_file", "server_name"});
  core::GrpcClientTls tls;
  tls.enabled = true;
  auto file = [&](const char* key, std::string& out) {
    if (node[key].IsDefined()) out = Resolve(base_dir, Text(node[key], Child(path, key)));
  };
  file("ca_file", tls.ca_file);
  file("cert_file", tls.cert_file);
  file("key_file", tls.key_file);
  if (node["server_name"].IsDefined()) {
    tls.server_name = Text(node["server_name"], Child(path, "server_name"));
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    Fail(node, path, tls.cert_file.empty() ? "key_file is set without cert_file"
                                           : "cert_file is set without key_file");
  }
  // Reads every named file now, so that a missing or unreadable one fails the check (and a
  // reload) instead of the first call.
  auto credentials = core::MakeChannelCredentials(tls);
  if (!credentials.ok()) Fail(node, path, credentials.error());
  for (const std::string* file : {&tls.ca_file, &tls.cert_file, &tls.key_file}) {
    if (!file->empty()) material += FileContents(*file) + "\n";
  }
  return tls;
}

AdapterSettings ParseAdapter(const std::string& name, const YAML::Node& node,
                             const std::string& path, const std::string& base_dir) {
  CheckMapping(node, path,
               {"address", "deadline_ms", "max_in_flight", "retry", "breaker", "tls"});
  AdapterSettings settings;
  settings.name = name;
  if (!node["address"].IsDefined()) Fail(node, path, "address is missing");
  settings.address = Text(node["address"], Child(path, "address"));
  SetIfPresent(node, path, "deadline_ms", 1, 600000, settings.deadline);
  SetIfPresent(node, path, "max_in_flight", 1, 100000, settings.max_in_flight);
  if (node["retry"].IsDefined()) settings.retry = ParseRetry(node["retry"], Child(path, "retry"));
  if (node["breaker"].IsDefined()) {
    settings.breaker = ParseBreaker(node["breaker"], Child(path, "breaker"));
  }
  if (node["tls"].IsDefined()) {
    settings.tls = ParseTls(node["tls"], Child(path, "tls"), base_dir, settings.tls_material);
  }
  return settings;
}

Route ParseRoute(const YAML::Node& node, const std::string& path, const AdaptersConfig& config) {
  CheckMapping(node, path, {"payment_gateway", "payment_method_id", "adapter"});
  Route route;
  if (node["payment_gateway"].IsDefined()) {
    route.payment_gateway = Text(node["payment_gateway"], Child(path, "payment_gateway"));
  }
  if (node["payment_method_id"].IsDefined()) {
    route.payment_method_id = Text(node["payment_method_id"], Child(path, "payment_method_id"));
  }
  if (!route.payment_gateway && !route.payment_method_id) {
    Fail(node, path,
         "a route needs payment_gateway and/or payment_method_id (default_adapter catches the "
         "rest)");
  }
  if (!node["adapter"].IsDefined()) Fail(node, path, "adapter is missing");
  route.adapter = Text(node["adapter"], Child(path, "adapter"));
  if (config.adapters.count(route.adapter) == 0) {
    Fail(node["adapter"], Child(path, "adapter"), "no adapter named \"" + route.adapter + "\"");
  }
  return route;
}

AdaptersConfig Parse(const YAML::Node& root, const std::string& base_dir,
                     std::chrono::milliseconds lease) {
  CheckMapping(root, "", {"adapters", "routes", "default_adapter"});
  AdaptersConfig config;
  const YAML::Node adapters = root["adapters"];
  if (!adapters.IsDefined()) Fail(root, "adapters", "is missing (at least one adapter)");
  if (!adapters.IsMap() || adapters.size() == 0) {
    Fail(adapters, "adapters", "must be a mapping of at least one adapter name to its settings");
  }
  for (const auto& entry : adapters) {
    const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "";
    const std::string path = Child("adapters", name);
    if (!ValidName(name)) {
      Fail(entry.first, path, "adapter names are 1 to 64 letters, digits, '_', '-' or '.'");
    }
    if (config.adapters.count(name) != 0) Fail(entry.first, path, "repeated key");
    AdapterSettings settings = ParseAdapter(name, entry.second, path, base_dir);
    // An attempt on an in-doubt job makes up to two calls (GetPaymentStatus, then the payment
    // call), each bounded by the deadline; the lease must outlast both.
    if (lease <= 2 * settings.deadline) {
      Fail(entry.second, Child(path, "deadline_ms"),
           "the worker's lease (--lease-ms " + std::to_string(lease.count()) +
               ") must exceed twice this deadline (" + std::to_string(settings.deadline.count()) +
               ")");
    }
    config.adapters.emplace(name, std::move(settings));
  }

  const YAML::Node routes = root["routes"];
  if (routes.IsDefined() && !routes.IsNull()) {
    if (!routes.IsSequence()) Fail(routes, "routes", "must be a list of routes");
    for (std::size_t i = 0; i < routes.size(); ++i) {
      const std::string path = "routes[" + std::to_string(i) + "]";
      Route route = ParseRoute(routes[i], path, config);
      for (std::size_t j = 0; j < config.routes.size(); ++j) {
        const Route& earlier = config.routes[j];
        if (earlier.payment_gateway == route.payment_gateway &&
            earlier.payment_method_id == route.payment_method_id) {
          Fail(routes[i], path,
               "same match as routes[" + std::to_string(j) + "] (" + DescribeRoute(route) + ")");
        }
      }
      config.routes.push_back(std::move(route));
    }
  }

  const YAML::Node fallback = root["default_adapter"];
  if (fallback.IsDefined()) {
    config.default_adapter = Text(fallback, "default_adapter");
    if (config.adapters.count(*config.default_adapter) == 0) {
      Fail(fallback, "default_adapter", "no adapter named \"" + *config.default_adapter + "\"");
    }
  }
  return config;
}

}  // namespace

bool SameConnection(const AdapterSettings& a, const AdapterSettings& b) {
  return a.address == b.address && a.tls.enabled == b.tls.enabled &&
         a.tls.ca_file == b.tls.ca_file && a.tls.cert_file == b.tls.cert_file &&
         a.tls.key_file == b.tls.key_file && a.tls.server_name == b.tls.server_name &&
         a.tls_material == b.tls_material;
}

core::Result<AdaptersConfig, std::string> ParseAdaptersConfig(const std::string& text,
                                                              const std::string& source,
                                                              const std::string& base_dir,
                                                              std::chrono::milliseconds lease) {
  try {
    return Parse(YAML::Load(text), base_dir, lease);
  } catch (const Invalid& invalid) {
    return source + ": " + invalid.message;
  } catch (const YAML::ParserException& e) {
    return source + ": line " + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg;
  } catch (const YAML::Exception& e) {
    return source + ": " + e.what();
  }
}

core::Result<AdaptersConfig, std::string> LoadAdaptersConfig(const std::string& path,
                                                              std::chrono::milliseconds lease) {
  if (!std::ifstream(path)) return path + ": cannot read the adapters file";
  return ParseAdaptersConfig(FileContents(path), path,
                             std::filesystem::path(path).parent_path().string(), lease);
}

std::string DescribeRoute(const Route& route) {
  std::string out;
  if (route.payment_gateway) out += "payment_gateway=" + *route.payment_gateway;
  if (route.payment_method_id) {
    out += (out.empty() ? "" : " ") + std::string("payment_method_id=") + *route.payment_method_id;
  }
  return out;
}

std::string DescribeAdapters(const AdaptersConfig& config) {
  std::string out;
  for (const auto& [name, a] : config.adapters) {
    out += "adapter " + name + " address=" + a.address + " tls=" +
           (a.tls.enabled ? (a.tls.cert_file.empty() ? "on" : "mutual") : "off") +
           " deadline_ms=" + std::to_string(a.deadline.count()) + " max_in_flight=" +
           (a.max_in_flight > 0 ? std::to_string(a.max_in_flight) : "-") +
           " max_attempts=" + std::to_string(a.retry.max_attempts) +
           " backoff_base_ms=" + std::to_string(a.retry.base_delay.count()) +
           " backoff_max_ms=" + std::to_string(a.retry.max_delay.count()) +
           " breaker_failures=" + std::to_string(a.breaker.failure_threshold) +
           " breaker_probe_ms=" + std::to_string(a.breaker.probe_interval.count()) + "\n";
  }
  for (const Route& route : config.routes) {
    out += "route " + DescribeRoute(route) + " -> " + route.adapter + "\n";
  }
  out += "default_adapter " + config.default_adapter.value_or("(none)") + "\n";
  return out;
}

RouteChoice ChooseAdapter(const AdaptersConfig& config,
                          const std::optional<std::string>& payment_gateway,
                          const std::optional<std::string>& payment_method_id) {
  const Route* best = nullptr;
  int best_rank = 0;
  for (const Route& route : config.routes) {
    if (route.payment_gateway && route.payment_gateway != payment_gateway) continue;
    if (route.payment_method_id && route.payment_method_id != payment_method_id) continue;
    const int rank = (route.payment_method_id ? 2 : 0) + (route.payment_gateway ? 1 : 0);
    if (rank > best_rank) {
      best = &route;
      best_rank = rank;
    }
  }
  if (best != nullptr) return RouteChoice{best->adapter, ""};
  if (config.default_adapter) return RouteChoice{config.default_adapter, ""};
  return RouteChoice{std::nullopt, "no route: payment_gateway=" + payment_gateway.value_or("(none)") +
                                       " payment_method_id=" +
                                       payment_method_id.value_or("(none)") +
                                       " and no default_adapter"};
}

}  // namespace payorch::worker
