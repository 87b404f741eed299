// Composing an RFC 5322 message with UTF-8 subject (RFC 2047) and body (quoted-printable), and
// the SMTP DATA transparency rules (RFC 5321 4.5.2). Pure functions, no I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace xlb::notify {

struct MessageSpec {
  std::string from;
  std::vector<std::string> to;
  std::string subject;  // UTF-8; CR/LF become spaces
  std::string body;     // UTF-8; any line ending
  std::chrono::system_clock::time_point date;
  std::string message_id;  // without <>; see make_message_id()
};

// CRLF line endings, headers then body; not dot-stuffed.
std::string build_message(const MessageSpec& m);

// The DATA payload: CRLF line endings, a '.' doubled at the start of every line, terminated
// by CRLF "." CRLF.
std::string dot_stuff(std::string_view message);

// One header value as RFC 2047 encoded words ("=?UTF-8?B?...?=") when it is not plain
// printable ASCII, folded so that no line exceeds 76 characters; never splits a UTF-8 sequence.
std::string encode_header_text(std::string_view utf8);

// Quoted-printable (RFC 2045 6.7) with CRLF hard line breaks and lines of at most 76 characters.
std::string quoted_printable(std::string_view text);

// "Tue, 25 Nov 2026 06:40:30 +0000" in local time with its offset.
std::string rfc5322_date(std::chrono::system_clock::time_point t);

// "<random hex>.<unix time>@<domain>" without brackets.
std::string make_message_id(std::string_view domain, std::chrono::system_clock::time_point t);

std::string base64(std::string_view bytes);

}  // namespace xlb::notify
