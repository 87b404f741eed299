// docs/config-reference.md is what operators read to learn what xlb does with a keyword; these
// tests hold it to the parser's own tables, both ways, and hold the tables to the parser's behaviour.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ctrl/config/config.hpp"
#include "ctrl/config/keywords.hpp"

namespace fs = std::filesystem;
using namespace xlb::config;

namespace {

struct DocRow {
  int line = 0;
  std::string status, default_text, note;
  bool xlb = false;
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(' ') - b + 1);
}

// Markdown cells; "\|" is a pipe inside a cell.
std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cur += '|';
      ++i;
    } else if (line[i] == '|') {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += line[i];
    }
  }
  return out;
}

std::string status_name(Support s) {
  switch (s) {
    case Support::supported: return "supported";
    case Support::warned: return "warned";
    case Support::refused: return "refused";
  }
  return "?";
}

std::string reference_path() {
  const char* src = std::getenv("XLB_SOURCE_DIR");
  return (fs::path(src ? src : XLB_DEFAULT_SOURCE_DIR) / "docs/config-reference.md").string();
}

// Every keyword row below "## Keywords": | section | `name` [(xlb)] | status | default | notes |
// Rows that appear twice are reported through `dups`.
std::map<std::string, DocRow> read_doc_rows(std::vector<std::string>& dups) {
  std::ifstream in(reference_path());
  std::map<std::string, DocRow> rows;
  std::string line;
  bool in_keywords = false;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("## ", 0) == 0) in_keywords = line == "## Keywords";
    if (!in_keywords || line.rfind("| ", 0) != 0) continue;
    const auto c = cells(line);
    if (c.size() != 5 || c[1].empty() || c[1][0] != '`') continue;
    const auto close = c[1].find('`', 1);
    if (close == std::string::npos) continue;
    DocRow r{n, c[2], c[3], c[4], trim(c[1].substr(close + 1)) == "(xlb)"};
    const std::string key = c[0] + " " + c[1].substr(1, close - 1);
    if (!rows.emplace(key, r).second) dups.push_back(key);
  }
  return rows;
}

TEST(ConfigReference, EveryDocumentedKeywordAgreesWithTheParserTables) {
  ASSERT_TRUE(fs::exists(reference_path())) << reference_path();
  std::vector<std::string> dups;
  auto rows = read_doc_rows(dups);
  const auto ref = keyword_reference();
  ASSERT_GT(rows.size(), 150u) << "the keyword tables of docs/config-reference.md were not found";
  EXPECT_TRUE(dups.empty()) << "documented twice: " << ::testing::PrintToString(dups);
  for (const auto& k : ref) {
    const std::string key = k.section + " " + k.name;
    const auto it = rows.find(key);
    if (it == rows.end()) {
      ADD_FAILURE() << "docs/config-reference.md has no row for " << key << " (" << status_name(k.support) << ")";
      continue;
    }
    const DocRow& r = it->second;
    const std::string where = "docs/config-reference.md:" + std::to_string(r.line) + ": " + key;
    EXPECT_EQ(r.status, status_name(k.support)) << where;
    EXPECT_EQ(r.xlb, k.xlb_specific) << where << ": (xlb) marker";
    EXPECT_EQ(r.default_text, k.default_text) << where << ": default";
    EXPECT_EQ(r.note, k.note) << where << ": note";
    rows.erase(it);
  }
  for (const auto& [key, r] : rows)
    ADD_FAILURE() << "docs/config-reference.md:" << r.line << ": " << key << " is documented but the parser does not know it";
}

// A statement of keyword `k` nested in the blocks its section lives in; `line` gets its line.
std::string statement_in_section(const KeywordInfo& k, unsigned& line) {
  std::string stmt = k.name;
  for (unsigned i = 0; i < k.min_args; ++i) stmt += " x";
  if (k.block) stmt += " {\n}";
  static const std::map<std::string, std::vector<std::string>> openers = {
      {"top", {}},
      {"global_defs", {"global_defs {"}},
      {"vrrp_script", {"vrrp_script s {"}},
      {"vrrp_sync_group", {"vrrp_sync_group g {"}},
      {"vrrp_instance", {"vrrp_instance VI_1 {"}},
      {"virtual_server", {"virtual_server 198.18.0.1 80 {"}},
      {"real_server", {"virtual_server 198.18.0.1 80 {", "real_server 198.18.1.1 80 {"}},
      {"checker", {"virtual_server 198.18.0.1 80 {", "real_server 198.18.1.1 80 {", "HTTP_GET {"}},
      {"url", {"virtual_server 198.18.0.1 80 {", "real_server 198.18.1.1 80 {", "HTTP_GET {", "url {"}},
  };
  const auto it = openers.find(k.section);
  if (it == openers.end()) return "";
  std::string text;
  for (const auto& o : it->second) text += o + "\n";
  line = static_cast<unsigned>(it->second.size()) + 1;
  text += stmt + "\n";
  for (std::size_t i = 0; i < it->second.size(); ++i) text += "}\n";
  return text;
}

// The status column is a promise about what the parser does with the keyword where it stands:
// warned -> a warning that it has no effect, refused -> an error, supported -> neither.
TEST(ConfigReference, ParserTreatsEachKeywordAsItsStatusSays) {
  const auto ref = keyword_reference();
  int checked = 0;
  for (const auto& k : ref) {
    unsigned line = 0;
    const std::string text = statement_in_section(k, line);
    ASSERT_FALSE(text.empty()) << "no enclosing blocks known for section " << k.section;
    const LoadResult r = load_string(text, "ref.conf");
    bool warned = false, refused = false;
    for (const auto& d : r.diagnostics) {
      if (d.loc.line != line) continue;
      const std::string quoted = "'" + k.name + "'";
      if (d.severity == Severity::warning && d.message.find(quoted + " is not implemented by xlb") != std::string::npos)
        warned = true;
      if (d.severity == Severity::error && d.message.find(quoted + " is not supported by xlb") != std::string::npos)
        refused = true;
    }
    EXPECT_EQ(warned, k.support == Support::warned) << k.section << " " << k.name << " in:\n" << text;
    EXPECT_EQ(refused, k.support == Support::refused) << k.section << " " << k.name << " in:\n" << text;
    ++checked;
  }
  EXPECT_GT(checked, 150);
}

}  // namespace
