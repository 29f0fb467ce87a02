#include "net/service_host.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <thread>

#include "core/event_writer.h"
#include "core/process.h"
#include "net/http.h"

namespace seccloud::net {
namespace {

namespace asio = boost::asio;

class ServiceHostImpl final : public ServiceHost {
 public:
  ServiceHostImpl(std::string service, std::filesystem::path config_path,
                  std::shared_ptr<const Config> config)
      : service_(std::move(service)),
        config_path_(std::move(config_path)),
        config_(std::move(config)),
        signals_(io_, SIGHUP, SIGTERM, SIGINT) {}

  ~ServiceHostImpl() override {
    admin_.reset();
    events_.reset();  // drains the queue into the spool
  }

  Status Init() {
    EventWriterOptions opts;
    opts.directory = config_->events.spool_dir / service_;
    opts.name = config_->node.name + "/" + service_;
    opts.rotate_bytes = config_->events.rotate_bytes;
    ASSIGN_OR_RETURN(writer_, EventWriter::Open(opts));
    events_ = std::make_unique<EventQueue>(writer_.get(), 65536, &metrics_, &health_);
    AdminServer::Options admin;
    admin.listen = AdminEndpointOf(*config_, service_);
    admin.service = service_;
    admin.health = &health_;
    admin.metrics = &metrics_;
    ASSIGN_OR_RETURN(admin_, AdminServer::Start(io_, admin));
    const auto started = std::chrono::steady_clock::now();
    metrics_.AddGaugeFunction(
        "seccloud_uptime_seconds", "Seconds since the service started", "", [started] {
          return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        });
    return {};
  }

  std::shared_ptr<const Config> config() const override {
    std::lock_guard lock(config_mu_);
    return config_;
  }
  EventQueue& events() override { return *events_; }
  EventWriter& event_writer() override { return *writer_; }
  MetricsRegistry& metrics() override { return metrics_; }
  Health& health() override { return health_; }
  Endpoint admin_endpoint() const override { return admin_->local_endpoint(); }
  const std::string& service() const override { return service_; }

  Status DropPrivileges(const std::vector<std::filesystem::path>& writable) override {
    auto cfg = config();
    if (!cfg->node.user) return {};
    // The spool stays writable after the switch: rotation creates files there.
    if (geteuid() == 0) {
      struct passwd* pw = getpwnam(cfg->node.user->c_str());
      if (pw == nullptr)
        return MakeError(Errc::kNotFound, "no such user \"" + *cfg->node.user + "\"");
      const std::filesystem::path dir = cfg->events.spool_dir / service_;
      std::error_code ec;
      auto give = [&](const std::filesystem::path& p) -> Status {
        if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0)
          return ErrnoError("cannot hand " + p.string() + " to " + *cfg->node.user, errno);
        return {};
      };
      RETURN_IF_ERROR(give(dir));
      for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
        RETURN_IF_ERROR(give(entry.path()));
      if (ec) return MakeError(Errc::kIo, "cannot list " + dir.string() + ": " + ec.message());
      for (const std::filesystem::path& w : writable) {
        RETURN_IF_ERROR(give(w));
        for (auto it = std::filesystem::recursive_directory_iterator(w, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
          RETURN_IF_ERROR(give(it->path()));
        if (ec) return MakeError(Errc::kIo, "cannot list " + w.string() + ": " + ec.message());
      }
    }
    return ::seccloud::DropPrivileges(*cfg->node.user);
  }

  void OnReload(ReloadHandler handler) override { reload_ = std::move(handler); }

  void RecordSystemEvent(std::string_view dataset, std::string_view action, Outcome outcome,
                         std::string_view message) override {
    Event e = Event::Make(dataset, "event", action, outcome);
    e.Set("event.category", dataset == "system.config" ? "configuration" : "process");
    e.Set("seccloud.service.name", service_);
    if (!message.empty())
      e.Set(outcome == Outcome::kFailure ? "error.message" : "message", message);
    events_->Push(std::move(e));
  }

  int Run(DrainHandler drain) override {
    RecordSystemEvent("system.service", "started", Outcome::kSuccess,
                      "admin on " + admin_->local_endpoint().ToString());
    WaitSignals(std::move(drain));
    io_.run();
    RecordSystemEvent("system.service", "stopped", Outcome::kSuccess, "");
    events_->Flush();
    return 0;
  }

 private:
  void WaitSignals(DrainHandler drain) {
    signals_.async_wait([this, drain](boost::system::error_code ec, int sig) mutable {
      if (ec) return;
      if (sig == SIGHUP) {
        Reload();
        WaitSignals(std::move(drain));
        return;
      }
      // Drain on a separate thread so the admin server keeps answering meanwhile.
      const auto deadline = std::chrono::steady_clock::now() + config()->supervisor.drain_timeout;
      std::thread([this, drain, deadline] {
        if (drain) drain(deadline);
        asio::post(io_, [this] {
          signals_.cancel();
          admin_->Stop();
          io_.stop();
        });
      }).detach();
    });
  }

  void Reload() {
    auto loaded = LoadConfig(config_path_);
    if (!loaded) {
      const std::string errors = loaded.error().ToString();
      std::fprintf(stderr, "seccloud %s: reload refused; the running configuration stays:\n%s",
                   service_.c_str(), errors.c_str());
      RecordSystemEvent("system.config", "reload-refused", Outcome::kFailure,
                        errors.substr(0, 16384));
      return;
    }
    if (reload_) {
      if (auto st = reload_(*loaded); !st) {
        RecordSystemEvent("system.config", "reload-refused", Outcome::kFailure,
                          st.error().ToString());
        return;
      }
    }
    {
      std::lock_guard lock(config_mu_);
      config_ = *loaded;
    }
    RecordSystemEvent("system.config", "reloaded", Outcome::kSuccess, config_path_.string());
  }

  std::string service_;
  std::filesystem::path config_path_;
  mutable std::mutex config_mu_;
  std::shared_ptr<const Config> config_;
  asio::io_context io_;
  asio::signal_set signals_;
  MetricsRegistry metrics_;
  Health health_;
  std::unique_ptr<EventWriter> writer_;
  std::unique_ptr<EventQueue> events_;
  std::unique_ptr<AdminServer> admin_;
  ReloadHandler reload_;
};

}  // namespace

Endpoint AdminEndpointOf(const Config& config, std::string_view service) {
  Endpoint e = config.supervisor.admin;
  if (e.port == 0) return e;
  for (const BuiltinService& s : kBuiltinServices)
    if (service == s.name) e.port = static_cast<uint16_t>(e.port + s.admin_offset);
  return e;
}

Result<std::unique_ptr<ServiceHost>> ServiceHost::Create(std::string service,
                                                         std::filesystem::path config_path) {
  auto loaded = LoadConfig(config_path);
  if (!loaded)
    return MakeError(Errc::kInvalidArgument, loaded.error().ToString() + config_path.string() +
                                                 ": " +
                                                 std::to_string(loaded.error().errors.size()) +
                                                 " error(s); nothing was started");
  auto host =
      std::make_unique<ServiceHostImpl>(std::move(service), std::move(config_path), *loaded);
  RETURN_IF_ERROR(host->Init());
  return std::unique_ptr<ServiceHost>(std::move(host));
}

}  // namespace seccloud::net
