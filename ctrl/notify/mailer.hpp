// The outgoing mail queue: callers hand over a composed mail and return at once; one coroutine
// delivers mails in order, retrying transient failures with exponential backoff. A mail that
// cannot be delivered (5xx, or out of attempts) is logged and counted; the queue is bounded
// and drops its oldest waiting mail when full.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "notify/mail_settings.hpp"
#include "notify/smtp_client.hpp"
#include "xlb/asio.hpp"

namespace xlb::notify {

using WallClock = std::function<std::chrono::system_clock::time_point()>;

struct Mail {
  std::string subject;  // UTF-8
  std::string body;     // UTF-8
};

struct MailCounters {
  std::uint64_t submitted = 0;
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;   // given up: permanent error or out of attempts
  std::uint64_t dropped = 0;  // queue full
  std::uint64_t retries = 0;  // transient failures that were retried
  std::uint64_t queued = 0;   // waiting or in flight now
};

class Mailer {
 public:
  // `password` comes from load_password_file(); it is kept in memory only.
  Mailer(boost::asio::any_io_executor executor, MailSettings settings, std::string password = {},
         WallClock clock = {});
  ~Mailer();
  Mailer(const Mailer&) = delete;
  Mailer& operator=(const Mailer&) = delete;

  // Never blocks; safe from any thread. Date and Message-ID are fixed here, so a retried mail
  // is the same message.
  void submit(Mail mail);
  MailCounters counters() const;
  // Stops delivering (mails still queued are abandoned); also done by the destructor.
  void stop();

 private:
  struct Queued {
    SmtpEnvelope envelope;
    std::string subject;
    int attempts = 0;
  };
  struct State {
    explicit State(const boost::asio::any_io_executor& ex) : strand(boost::asio::make_strand(ex)), wake(strand) {}
    boost::asio::strand<boost::asio::any_io_executor> strand;
    boost::asio::steady_timer wake;  // cancelled to wake the worker: new mail or stop
    MailSettings settings;
    SmtpConfig smtp;
    WallClock clock;
    std::deque<Queued> queue;
    bool stopped = false;
    std::atomic<std::uint64_t> submitted{0}, delivered{0}, failed{0}, dropped{0}, retries{0}, queued{0};
  };
  static boost::asio::awaitable<void> worker(std::shared_ptr<State> st);

  std::shared_ptr<State> state_;
};

}  // namespace xlb::notify
