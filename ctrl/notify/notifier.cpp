#include "notifier.hpp"

#include <iterator>

#include <spdlog/spdlog.h>

namespace xlb::notify {

namespace asio = boost::asio;

namespace {

MailSettings finalized(MailSettings m) {
  m.finalize();
  return m;
}

}  // namespace

Notifier::Notifier(asio::any_io_executor executor, NotifierSettings settings, WallClock clock,
                   AlertScheduler::MinuteOfDay minute_of_day)
    : executor_(executor),
      settings_([&] {
        settings.mail = finalized(std::move(settings.mail));
        return std::move(settings);
      }()),
      clock_(clock ? std::move(clock) : WallClock([] { return std::chrono::system_clock::now(); })),
      runner_(executor, settings_.scripts),
      scheduler_(settings_.mail.smtp_digest_window, settings_.mail.smtp_quiet_hours, std::move(minute_of_day)),
      timer_(executor) {
  if (settings_.mail.mail_configured()) {
    std::string password;
    if (!settings_.mail.smtp_password_file.empty()) password = load_password_file(settings_.mail.smtp_password_file);
    mailer_ = std::make_unique<Mailer>(executor, settings_.mail, std::move(password), clock_);
  }
}

Notifier::~Notifier() {
  *alive_ = false;
  timer_.cancel();
}

void Notifier::run_scripts(const std::string& key, std::vector<std::vector<std::string>> commands) {
  if (commands.empty()) return;
  auto& q = queues_[key];
  if (!q) q = std::make_unique<ScriptQueue>(runner_, settings_.script_queue_capacity);
  for (auto& argv : commands) q->enqueue(std::move(argv), settings_.script_options);
}

// A script string that cannot be split (bad quoting) is counted and logged, and nothing runs.
std::optional<std::vector<std::string>> Notifier::script_command(const std::string& subject, std::string_view kind,
                                                                 const std::string& script,
                                                                 std::vector<std::string> extra) {
  if (script.empty()) return std::nullopt;
  try {
    auto argv = split_script_command(script);
    argv.insert(argv.end(), std::make_move_iterator(extra.begin()), std::make_move_iterator(extra.end()));
    return argv;
  } catch (const std::invalid_argument& e) {
    ++scripts_invalid_;
    spdlog::error("{}: {} script '{}' not run: {}", subject, kind, script, e.what());
    return std::nullopt;
  }
}

void Notifier::vrrp_transition(const VrrpTransition& t, const VrrpScripts& scripts, std::optional<bool> smtp_alert) {
  ++events_;
  // The daemon logs each instance's transition once, with its detail; a group's only shows here.
  spdlog::log(t.is_group ? spdlog::level::info : spdlog::level::debug, "{} {}: {} -> {} (priority {}{}{})",
              t.is_group ? "group" : "instance", t.instance,
              to_string(t.from), to_string(t.to), t.priority, t.reason.empty() ? "" : ", ", t.reason);
  std::vector<std::vector<std::string>> commands;
  auto add = [&](const std::string& script, std::vector<std::string> extra) {
    if (auto argv = script_command(t.instance, "notify", script, std::move(extra))) commands.push_back(std::move(*argv));
  };
  const std::string* specific = nullptr;
  switch (t.to) {
    case VrrpState::master: specific = &scripts.notify_master; break;
    case VrrpState::backup: specific = &scripts.notify_backup; break;
    case VrrpState::fault: specific = &scripts.notify_fault; break;
    case VrrpState::stop: specific = &scripts.notify_stop; break;
    default: break;
  }
  if (specific) add(*specific, {});
  // keepalived passes the priority to instance scripts only.
  std::vector<std::string> args{t.is_group ? "GROUP" : "INSTANCE", t.instance, std::string(to_string(t.to))};
  if (!t.is_group) args.push_back(std::to_string(t.priority));
  add(scripts.notify, std::move(args));
  run_scripts((t.is_group ? "group:" : "vrrp:") + t.instance, std::move(commands));
  if (settings_.mail.alert_vrrp(smtp_alert)) queue_mail(t);
}

void Notifier::real_server_change(const RealServerChange& c, const std::string& script, std::optional<bool> smtp_alert) {
  ++events_;
  // The daemon has logged the change itself; here only that notifications go out.
  spdlog::debug("notify: real server {} of {}: {} ({}{}{})", c.real_server, c.virtual_server, c.up ? "UP" : "DOWN", c.checker,
               c.reason.empty() ? "" : ": ", c.reason);
  if (auto argv = script_command(c.real_server, "notify", script, {}))
    run_scripts("real:" + c.virtual_server + "/" + c.real_server, {std::move(*argv)});
  if (settings_.mail.alert_checker(smtp_alert)) queue_mail(c);
}

void Notifier::quorum_change(const QuorumChange& q, const std::string& script, std::optional<bool> smtp_alert) {
  ++events_;
  spdlog::debug("notify: virtual server {}: quorum {}", q.virtual_server, q.lost ? "lost" : "regained");
  if (auto argv = script_command(q.virtual_server, "quorum", script, {})) run_scripts("quorum:" + q.virtual_server, {std::move(*argv)});
  if (settings_.mail.alert_checker(smtp_alert)) queue_mail(q);
}

void Notifier::announce_change(const AnnounceChange& a, const std::string& script) {
  ++events_;
  if (auto argv = script_command(a.vip, "notify_announce", script,
                                 {"ANNOUNCE", a.vip, a.announced ? "ANNOUNCED" : "WITHDRAWN", a.reason}))
    run_scripts("announce:" + a.vip, {std::move(*argv)});
  if (settings_.mail.alert_vrrp({}) && !a.initial) queue_mail(a);
}

void Notifier::queue_mail(Event e) {
  if (!mailer_) return;
  scheduler_.add(TimedEvent{clock_(), std::move(e)});
  flush_due();
}

void Notifier::flush_due() {
  while (auto batch = scheduler_.due(clock_())) {
    MailText text = compose_mail(settings_.mail.router_id, batch->events, batch->open_faults,
                                 batch->held_for_quiet_hours);
    events_mailed_ += batch->events.size();
    ++mails_composed_;
    if (mailer_) mailer_->submit(Mail{std::move(text.subject), std::move(text.body)});
  }
  arm_timer();
}

void Notifier::arm_timer() {
  auto deadline = scheduler_.next_deadline();
  if (!deadline) {
    timer_.cancel();
    return;
  }
  // Wall-clock deadlines become a steady timer; re-checked at least every minute so that a
  // clock step (NTP, suspend) delays a digest by a minute at most.
  auto delay = *deadline - clock_();
  delay = std::clamp<std::chrono::system_clock::duration>(delay, std::chrono::milliseconds(1), std::chrono::minutes(1));
  timer_.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(delay));
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    auto a = alive.lock();
    if (ec || !a || !*a) return;
    flush_due();
  });
}

NotifierCounters Notifier::counters() const {
  NotifierCounters c;
  c.scripts = runner_.counters();
  for (const auto& [key, q] : queues_) c.scripts_dropped += q->dropped();
  c.scripts_invalid = scripts_invalid_;
  c.events = events_;
  c.events_mailed = events_mailed_;
  c.mails_composed = mails_composed_;
  c.events_held = scheduler_.held();
  if (mailer_) c.mail = mailer_->counters();
  return c;
}

}  // namespace xlb::notify
