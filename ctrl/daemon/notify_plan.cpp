#include "ctrl/daemon/notify_plan.hpp"

namespace xlb::daemon {

notify::NotifierSettings plan_notify(const config::Config& config) {
  const auto& g = config.global_defs;
  notify::NotifierSettings s;
  auto& mail = s.mail;
  for (const auto& to : g.notification_email) mail.notification_email.push_back(*to);
  mail.notification_email_from = *g.notification_email_from;
  mail.smtp_server = g.smtp_server->host;
  mail.smtp_port = g.smtp_server->port;
  mail.smtp_helo_name = *g.smtp_helo_name;
  mail.smtp_connect_timeout = std::chrono::seconds(*g.smtp_connect_timeout);
  mail.smtp_alert = *g.smtp_alert;
  mail.smtp_alert_vrrp = *g.smtp_alert_vrrp;
  mail.smtp_alert_checker = *g.smtp_alert_checker;
  mail.router_id = *g.router_id;
  switch (*g.smtp_tls) {
    case config::SmtpTls::none: mail.smtp_tls = notify::TlsMode::none; break;
    case config::SmtpTls::starttls: mail.smtp_tls = notify::TlsMode::starttls; break;
    case config::SmtpTls::implicit: mail.smtp_tls = notify::TlsMode::implicit; break;
  }
  mail.smtp_auth_user = *g.smtp_auth_user;
  mail.smtp_password_file = *g.smtp_password_file;
  mail.smtp_digest_window = std::chrono::seconds(*g.smtp_digest_window);
  if (g.smtp_quiet_hours->enabled) {
    mail.smtp_quiet_hours = notify::QuietHours{g.smtp_quiet_hours->start_minute, g.smtp_quiet_hours->end_minute};
  }
  if (g.script_user.set) {
    s.scripts.default_user = notify::ScriptUser::lookup(*g.script_user, *g.script_group);
  }
  s.scripts.script_security = *g.enable_script_security;
  return s;
}

notify::VrrpScripts vrrp_scripts(const config::NotifyScripts& scripts) {
  return {*scripts.notify, *scripts.notify_master, *scripts.notify_backup, *scripts.notify_fault,
          *scripts.notify_stop};
}

}  // namespace xlb::daemon
