// The one object xlbd talks to about events: runs keepalived's notify scripts (in order, per
// instance / real server, never blocking the caller) and turns events into mails according to
// smtp_alert, the digest window and quiet hours.
//
// Threading: call it from the executor it was created with (xlbd's one io_context).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "notify/alert_scheduler.hpp"
#include "notify/events.hpp"
#include "notify/mail_settings.hpp"
#include "notify/mailer.hpp"
#include "notify/script_runner.hpp"
#include "xlb/asio.hpp"

namespace xlb::notify {

// keepalived's notify keywords of one vrrp_instance or vrrp_sync_group (script strings as
// written in the configuration; empty = not configured).
struct VrrpScripts {
  std::string notify{};  // gets: INSTANCE|GROUP <name> <STATE> [<priority>]
  std::string notify_master{}, notify_backup{}, notify_fault{}, notify_stop{};
};

struct NotifierSettings {
  MailSettings mail;                  // finalize() is called by the Notifier
  ScriptRunner::Settings scripts;     // script_user / enable_script_security
  ScriptOptions script_options;       // timeout for notify scripts
  std::size_t script_queue_capacity = 64;
};

struct NotifierCounters {
  ScriptCounters scripts;
  std::uint64_t scripts_dropped = 0;  // a per-instance queue was full
  std::uint64_t scripts_invalid = 0;  // a script string that cannot be split (bad quoting)
  std::uint64_t events = 0;
  std::uint64_t events_mailed = 0;    // events that went into a submitted mail
  std::uint64_t mails_composed = 0;
  std::size_t events_held = 0;        // waiting for the digest window or quiet hours
  MailCounters mail;
};

class Notifier {
 public:
  // Throws at start-up on bad mail settings or an unsafe password file.
  Notifier(boost::asio::any_io_executor executor, NotifierSettings settings, WallClock clock = {},
           AlertScheduler::MinuteOfDay minute_of_day = {});
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // notify_<state> first, then `notify` with keepalived's arguments, in order per instance.
  // smtp_alert: the instance's keyword (unset: the global rule).
  void vrrp_transition(const VrrpTransition& t, const VrrpScripts& scripts, std::optional<bool> smtp_alert = {});
  // notify_up / notify_down of the real server (the one matching c.up), as written.
  void real_server_change(const RealServerChange& c, const std::string& script = {},
                          std::optional<bool> smtp_alert = {});
  // quorum_up / quorum_down of the virtual server (the one matching q), as written.
  void quorum_change(const QuorumChange& q, const std::string& script = {}, std::optional<bool> smtp_alert = {});

  // notify_announce (global, as written) with: ANNOUNCE <vip> ANNOUNCED|WITHDRAWN <reason>;
  // mailed under the VRRP rule (smtp_alert_vrrp, else smtp_alert): like a VRRP transition, it
  // says whether this node receives the VIP's traffic. A VIP's initial state goes only to the script.
  void announce_change(const AnnounceChange& a, const std::string& script = {});
  // Sends what the digest window / quiet hours released by now. Runs from an internal timer;
  // tests with an injected clock call it after moving the clock.
  void flush_due();

  NotifierCounters counters() const;
  ScriptRunner& script_runner() { return runner_; }
  const MailSettings& mail_settings() const { return settings_.mail; }

 private:
  void run_scripts(const std::string& key, std::vector<std::vector<std::string>> commands);
  std::optional<std::vector<std::string>> script_command(const std::string& subject, std::string_view kind,
                                                         const std::string& script, std::vector<std::string> extra);
  void queue_mail(Event e);
  void arm_timer();

  boost::asio::any_io_executor executor_;
  NotifierSettings settings_;
  WallClock clock_;
  ScriptRunner runner_;
  std::map<std::string, std::unique_ptr<ScriptQueue>> queues_;
  std::unique_ptr<Mailer> mailer_;
  AlertScheduler scheduler_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // guards timer callbacks
  std::uint64_t events_ = 0, events_mailed_ = 0, mails_composed_ = 0, scripts_invalid_ = 0;
};

}  // namespace xlb::notify
