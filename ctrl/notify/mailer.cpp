#include "mailer.hpp"

#include <spdlog/spdlog.h>

#include "notify/mime.hpp"

namespace xlb::notify {

namespace asio = boost::asio;

Mailer::Mailer(asio::any_io_executor executor, MailSettings settings, std::string password, WallClock clock)
    : state_(std::make_shared<State>(executor)) {
  auto& st = *state_;
  st.settings = std::move(settings);
  st.clock = clock ? std::move(clock) : WallClock([] { return std::chrono::system_clock::now(); });
  st.smtp.host = st.settings.smtp_server;
  st.smtp.port = st.settings.smtp_port;
  st.smtp.helo_name = st.settings.smtp_helo_name.empty() ? local_host_name() : st.settings.smtp_helo_name;
  st.smtp.tls = st.settings.smtp_tls;
  st.smtp.tls_verify = st.settings.smtp_tls_verify;
  st.smtp.tls_ca_file = st.settings.smtp_tls_ca_file;
  st.smtp.auth_user = st.settings.smtp_auth_user;
  st.smtp.auth_password = std::move(password);
  st.smtp.timeout = st.settings.smtp_connect_timeout;
  asio::co_spawn(st.strand, worker(state_), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("mailer stopped: {}", ex.what());
    }
  });
}

Mailer::~Mailer() { stop(); }

void Mailer::stop() {
  auto st = state_;
  asio::post(st->strand, [st] {
    st->stopped = true;
    st->queued -= st->queue.size();
    st->queue.clear();
    st->wake.cancel();
  });
}

MailCounters Mailer::counters() const {
  const auto& st = *state_;
  return {st.submitted.load(), st.delivered.load(), st.failed.load(),
          st.dropped.load(),   st.retries.load(),   st.queued.load()};
}

void Mailer::submit(Mail mail) {
  auto st = state_;
  ++st->submitted;
  asio::post(st->strand, [st, mail = std::move(mail)]() mutable {
    if (st->stopped) return;
    const auto& s = st->settings;
    MessageSpec spec;
    spec.from = s.notification_email_from;
    spec.to = s.notification_email;
    spec.subject = std::move(mail.subject);
    spec.body = std::move(mail.body);
    spec.date = st->clock();
    spec.message_id = make_message_id(st->smtp.helo_name, spec.date);
    Queued q{{spec.from, spec.to, build_message(spec)}, spec.subject, 0};
    // The mail in flight is not in the queue; the oldest waiting one makes room.
    if (st->queue.size() >= s.queue_capacity) {
      spdlog::error("mail queue full ({} mails): dropping '{}'", st->queue.size(), st->queue.front().subject);
      st->queue.pop_front();
      ++st->dropped;
      --st->queued;
    }
    st->queue.push_back(std::move(q));
    ++st->queued;
    st->wake.cancel();
  });
}

asio::awaitable<void> Mailer::worker(std::shared_ptr<State> st) {
  boost::system::error_code ec;
  while (!st->stopped) {
    if (st->queue.empty()) {
      st->wake.expires_at(asio::steady_timer::time_point::max());
      co_await st->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    Queued mail = std::move(st->queue.front());
    st->queue.pop_front();
    ++mail.attempts;
    std::string error;
    bool permanent = false;
    try {
      auto accepted = co_await smtp_send(st->smtp, mail.envelope);
      spdlog::info("mail '{}' delivered to {} recipient(s) via {}", mail.subject, accepted.size(), st->smtp.host);
    } catch (const SmtpError& e) {
      error = e.what();
      permanent = e.permanent();
    } catch (const std::exception& e) {
      error = e.what();
    }
    --st->queued;
    if (error.empty()) {
      ++st->delivered;
      continue;
    }
    if (permanent || mail.attempts >= st->settings.max_attempts) {
      spdlog::error("mail '{}' not delivered after {} attempt(s): {}", mail.subject, mail.attempts, error);
      ++st->failed;
      continue;
    }
    if (st->stopped) break;
    auto delay = st->settings.retry_initial;
    for (int i = 1; i < mail.attempts && delay < st->settings.retry_max; ++i) delay *= 2;
    delay = std::min(delay, st->settings.retry_max);
    spdlog::warn("mail '{}' attempt {} failed: {}; retrying in {} ms", mail.subject, mail.attempts, error,
                 delay.count());
    ++st->retries;
    ++st->queued;
    st->queue.push_front(std::move(mail));
    // New mail does not cut the backoff short: the wake timer is re-armed until the delay passed.
    auto until = asio::steady_timer::clock_type::now() + delay;
    while (!st->stopped && asio::steady_timer::clock_type::now() < until) {
      st->wake.expires_at(until);
      co_await st->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
}

}  // namespace xlb::notify
