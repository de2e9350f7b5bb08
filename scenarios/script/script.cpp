// The .kps parser: a lexer into line-structured tokens, a recursive-descent parser into a small
// syntax tree (Ast), and an instantiator that walks the tree once per parameter assignment and
// emits a Program. docs/scripts.md is the grammar; program.h is what the output means.
#include "scenarios/script/script.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "model/kconfig.h"

namespace kpsim::script {

namespace {

struct Pos {
  uint32_t line = 0, col = 0;
};

// ---- tokens ----------------------------------------------------------------------------------

enum class Tk : uint8_t { ident, number, string, punct, newline, end };

struct Token {
  Tk k = Tk::end;
  std::string s;  // ident / number (raw) / string (decoded) / punct
  Pos pos;
  uint32_t end_col = 0;  // column just past the token
};

std::string describe(const Token& t) {
  switch (t.k) {
    case Tk::ident: return "'" + t.s + "'";
    case Tk::number: return "'" + t.s + "'";
    case Tk::string: return "a string";
    case Tk::punct: return "'" + t.s + "'";
    case Tk::newline: return "the end of the line";
    case Tk::end: return "the end of the file";
  }
  return "?";
}

[[noreturn]] void fail_at(const std::string& file, Pos p, const std::string& msg) {
  throw ScriptError(Loc{file, p.line, p.col}, msg);
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<Token> lex(const std::string& file, std::string_view t) {
  std::vector<Token> out;
  size_t i = 0, line_start = 0;
  uint32_t line = 1;
  auto col_of = [&](size_t at) { return static_cast<uint32_t>(at - line_start + 1); };
  auto push = [&](Tk k, std::string s, size_t from, size_t to) {
    out.push_back(Token{k, std::move(s), Pos{line, col_of(from)}, col_of(to)});
  };
  while (i < t.size()) {
    const char c = t[i];
    if (c == '\n') {
      push(Tk::newline, "", i, i + 1);
      ++i;
      ++line;
      line_start = i;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
    } else if (c == '#') {
      while (i < t.size() && t[i] != '\n') ++i;
    } else if (is_alpha(c) || is_digit(c)) {
      const size_t from = i;
      while (i < t.size() && is_alnum(t[i])) ++i;
      push(is_digit(c) ? Tk::number : Tk::ident, std::string(t.substr(from, i - from)), from, i);
    } else if (c == '"') {
      const size_t from = i++;
      std::string s;
      for (;;) {
        if (i >= t.size() || t[i] == '\n')
          fail_at(file, Pos{line, col_of(from)}, "unterminated string");
        const char d = t[i];
        if (d == '"') {
          ++i;
          break;
        }
        if (d != '\\') {
          s += d;
          ++i;
          continue;
        }
        if (i + 1 >= t.size()) fail_at(file, Pos{line, col_of(i)}, "unterminated string");
        const char e = t[i + 1];
        if (e == 'n') {
          s += '\n';
          i += 2;
        } else if (e == '\\' || e == '"') {
          s += e;
          i += 2;
        } else if (e == 'x') {
          const int h1 = i + 2 < t.size() ? hex_value(t[i + 2]) : -1;
          const int h2 = i + 3 < t.size() ? hex_value(t[i + 3]) : -1;
          if (h1 < 0 || h2 < 0) fail_at(file, Pos{line, col_of(i)}, "\\x needs two hex digits");
          s += static_cast<char>(h1 * 16 + h2);
          i += 4;
        } else {
          fail_at(file, Pos{line, col_of(i)},
                  "unknown escape in a string (known: \\n \\\\ \\\" \\xNN)");
        }
      }
      push(Tk::string, std::move(s), from, i);
    } else {
      static constexpr std::string_view two[] = {"==", "!=", "<=", ">=", "&&", "||"};
      const std::string_view rest = t.substr(i);
      bool done = false;
      for (auto op : two)
        if (rest.substr(0, 2) == op) {
          push(Tk::punct, std::string(op), i, i + 2);
          i += 2;
          done = true;
          break;
        }
      if (done) continue;
      if (std::string_view("(){}[],:=<>+-*/%!?|.").find(c) != std::string_view::npos) {
        push(Tk::punct, std::string(1, c), i, i + 1);
        ++i;
        continue;
      }
      const auto u = static_cast<unsigned char>(c);
      fail_at(file, Pos{line, col_of(i)},
              u >= 0x21 && u < 0x7f ? std::string("unexpected character '") + c + "'"
                                    : "unexpected byte 0x" + std::string(1, "0123456789abcdef"[u >> 4]) +
                                          "0123456789abcdef"[u & 15]);
    }
  }
  out.push_back(Token{Tk::end, "", Pos{line, col_of(i)}, col_of(i)});
  return out;
}

// ---- syntax tree -----------------------------------------------------------------------------

enum class Unit : uint8_t { none, dur, flags, poll };  // poll: POLL* event bits

struct Expr {
  enum class K : uint8_t { num, name, str, unary, binary, ternary, sent, slice } k = K::num;
  Pos pos;
  std::string s;  // name, string literal, operator, or the number as written
  int64_t num = 0;
  Unit unit = Unit::none;
  std::unique_ptr<Expr> a, b, c;
  uint32_t depth = 1;
};
using ExprP = std::unique_ptr<Expr>;

struct Rule {
  Pos pos;
  std::optional<std::string> on;
  Pos on_pos;
  std::string action;  // pass | drop | redirect
  Pos action_pos;
  std::vector<ExprP> args;
};

struct Stmt {
  enum class K : uint8_t { let, pair, map, file, pipe, ring, verdict, call, if_, repeat, thread, limit, sysctl, check, window } k = K::let;
  Pos pos;
  std::string name, name2;  // let / thread / map / pair names; call: the callee; limit: kind
  Pos name_pos, name2_pos;
  std::vector<ExprP> args;
  ExprP value;  // let value, if condition, repeat count, map size, pair proto, limit value,
                // file size, sysctl value
  ExprP ret, data;
  ExprP within;  // `within DURATION` after a step's expectation
  std::vector<Rule> rules;
  std::vector<Stmt> body, else_body;
};

}  // namespace

struct Ast {
  std::string file, text, name, summary;
  Pos scenario_pos;
  std::vector<ParamSpec> params;
  std::vector<Pos> param_pos;
  std::vector<bool> is_model;
  std::vector<Stmt> top;
  CheckPlan check;
  std::vector<Pos> check_set_pos;  // of each check.sets entry
  std::vector<SweepAxis> sweeps;   // `crosscheck sweep` lines
  std::vector<Pos> sweep_pos;
};

namespace {

constexpr uint32_t kMaxExprDepth = 256;
constexpr uint32_t kMaxBlockDepth = 32;

struct CallSig {
  std::string_view name;
  uint8_t min_args, max_args;
  bool thread;  // a thread step (else: top-level setup)
  bool top;     // allowed at top level
  bool ret, data;
};
constexpr CallSig kCalls[] = {
    {"send", 2, 3, true, false, true, false},
    {"recv", 2, 3, true, false, true, true},
    {"recv_timeout", 4, 4, true, false, true, true},
    {"recv_loop", 4, 4, true, false, true, true},
    {"ioctl", 2, 2, true, false, true, false},
    {"wait_for_fionread", 3, 3, true, false, true, false},
    {"poll", 3, 3, true, false, true, false},
    {"select", 2, 2, true, false, true, false},
    {"usleep", 1, 1, true, false, false, false},
    {"shutdown", 2, 2, true, false, true, false},
    {"close", 1, 1, true, false, true, false},
    {"map_update", 3, 3, true, true, false, false},
    {"map_delete", 2, 2, true, true, false, false},
    {"setsockopt", 3, 3, false, true, false, false},
    {"tls_tx", 3, 3, false, true, false, false},
    {"tls_rx", 3, 3, false, true, false, false},
    {"drain", 1, 1, false, true, false, false},
    {"sendfile", 3, 3, true, false, true, false},
    {"write", 2, 2, true, false, true, false},
    {"sendfile_loop", 4, 4, true, false, true, false},
    {"write_loop", 4, 4, true, false, true, false},
    {"io_uring_register_iowq_max_workers", 2, 2, false, true, false, false},
    {"io_uring_others", 3, 3, false, true, false, false},
    {"splice_loop", 5, 5, true, false, false, false},
    {"uring_splice_close", 6, 6, true, false, false, false},
    {"read_until_eof", 3, 3, true, false, false, false},
    {"uring_read", 3, 3, true, false, true, true},
    {"uring_send", 3, 3, true, false, true, false},
};
const CallSig* find_call(std::string_view n) {
  for (auto& c : kCalls)
    if (c.name == n) return &c;
  return nullptr;
}

constexpr std::string_view kTopStatements =
    "scenario, param, model, limit, let, if, thread, verdict, setsockopt, map_update, map_delete, "
    "NAME = map(...), A, B = create_pair(...), NAME = file(SIZE), NAME = pipe(), NAME = io_uring_setup(FLAGS), "
    "io_uring_register_iowq_max_workers, io_uring_others, tls_tx, tls_rx, drain, sysctl, property, window";
constexpr std::string_view kThreadStatements =
    "send, recv, recv_timeout, recv_loop, ioctl, wait_for_fionread, poll, select, usleep, shutdown, close, "
    "map_update, map_delete, sendfile, write, sendfile_loop, write_loop, splice_loop, uring_splice_close, "
    "read_until_eof, uring_read, uring_send, if, repeat";

enum class Ctx : uint8_t { top, thread };

class Parser {
 public:
  Parser(Ast& ast, std::vector<Token> toks) : ast_(ast), t_(std::move(toks)) {}

  void run() {
    skip_newlines();
    if (peek().k == Tk::end)
      fail(peek().pos, "empty script: expected `scenario NAME \"summary\"` first");
    if (!(peek().k == Tk::ident && peek().s == "scenario"))
      fail(peek().pos, "the first statement must be `scenario NAME \"summary\"`, not " + describe(peek()));
    parse_scenario();
    bool has_else = false;
    ast_.top = parse_block(Ctx::top, 0, Pos{}, "", &has_else);
  }

 private:
  Ast& ast_;
  std::vector<Token> t_;
  size_t i_ = 0;
  uint32_t expr_nest_ = 0;
  std::map<std::string, Pos> param_names_;

  [[noreturn]] void fail(Pos p, const std::string& m) const { fail_at(ast_.file, p, m); }
  const Token& peek(size_t ahead = 0) const { return t_[std::min(i_ + ahead, t_.size() - 1)]; }
  const Token& next() {
    const Token& t = t_[i_];
    if (i_ + 1 < t_.size()) ++i_;
    return t;
  }
  bool is_punct(std::string_view p, size_t ahead = 0) const {
    return peek(ahead).k == Tk::punct && peek(ahead).s == p;
  }
  bool is_ident(std::string_view w) const { return peek().k == Tk::ident && peek().s == w; }
  void expect_punct(std::string_view p, std::string_view where) {
    if (!is_punct(p))
      fail(peek().pos, "expected '" + std::string(p) + "' " + std::string(where) + ", got " + describe(peek()));
    next();
  }
  void expect_eol(std::string_view after) {
    if (peek().k != Tk::newline && peek().k != Tk::end)
      fail(peek().pos, "unexpected " + describe(peek()) + " after " + std::string(after));
  }
  void skip_newlines() {
    while (peek().k == Tk::newline) next();
  }
  const Token& expect_ident(std::string_view what) {
    if (peek().k != Tk::ident) fail(peek().pos, "expected " + std::string(what) + ", got " + describe(peek()));
    return next();
  }
  std::string expect_string(std::string_view what) {
    if (peek().k != Tk::string) fail(peek().pos, "expected " + std::string(what) + ", got " + describe(peek()));
    return next().s;
  }
  // A word as written without spaces: identifiers, numbers, '-' and '.' joined ("pre-929e30f93125",
  // "sockmap-multi-channels", "-5", "1.3", "net.ipv4.tcp_notsent_lowat").
  std::pair<std::string, Pos> parse_word(std::string_view what) {
    const Token& first = peek();
    if (first.k != Tk::ident && first.k != Tk::number && !is_punct("-"))
      fail(first.pos, "expected " + std::string(what) + ", got " + describe(first));
    std::string w;
    const Pos pos = first.pos;
    uint32_t end = first.pos.col;
    while ((peek().k == Tk::ident || peek().k == Tk::number || is_punct("-") || is_punct(".")) &&
           peek().pos.line == pos.line && peek().pos.col == end) {
      w += peek().s;
      end = next().end_col;
    }
    return {w, pos};
  }

  // ---- numbers ----
  // "64K" -> 65536, "30ms" -> 30000 (a duration, in microseconds).
  std::pair<int64_t, Unit> number_value(const Token& t) const {
    size_t d = 0;
    while (d < t.s.size() && is_digit(t.s[d])) ++d;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(t.s.data(), t.s.data() + d, v);
    (void)p;
    if (ec != std::errc() || v > static_cast<uint64_t>(INT64_MAX))
      fail(t.pos, "number '" + t.s + "' is too large");
    const std::string_view suf = std::string_view(t.s).substr(d);
    uint64_t mul = 1;
    Unit u = Unit::none;
    if (suf.empty()) {
    } else if (suf == "K") {
      mul = 1024;
    } else if (suf == "M") {
      mul = 1024 * 1024;
    } else if (suf == "us") {
      u = Unit::dur;
    } else if (suf == "ms") {
      u = Unit::dur, mul = 1000;
    } else if (suf == "s") {
      u = Unit::dur, mul = 1000000;
    } else {
      fail(t.pos, "bad number '" + t.s + "' (suffixes: K, M for sizes; us, ms, s for durations)");
    }
    if (v > static_cast<uint64_t>(INT64_MAX) / mul) fail(t.pos, "number '" + t.s + "' is too large");
    return {static_cast<int64_t>(v * mul), u};
  }
  // A plain integer for [MIN, MAX]: optional '-', K/M suffixes, no unit.
  int64_t parse_int_literal(std::string_view what) {
    const Pos pos = peek().pos;
    bool neg = false;
    if (is_punct("-")) {
      neg = true;
      next();
    }
    if (peek().k != Tk::number) fail(peek().pos, "expected " + std::string(what) + ", got " + describe(peek()));
    const auto [v, u] = number_value(next());
    if (u != Unit::none) fail(pos, "expected " + std::string(what) + ", got a duration");
    return neg ? -v : v;
  }

  // ---- expressions ----
  ExprP make(Expr::K k, Pos pos, std::string s) {
    auto e = std::make_unique<Expr>();
    e->k = k;
    e->pos = pos;
    e->s = std::move(s);
    return e;
  }
  ExprP finish(ExprP e) {
    uint32_t d = 0;
    for (const Expr* c : {e->a.get(), e->b.get(), e->c.get()})
      if (c) d = std::max(d, c->depth);
    e->depth = d + 1;
    if (e->depth > kMaxExprDepth)
      fail(e->pos, "expression nested too deeply (more than " + std::to_string(kMaxExprDepth) + " levels)");
    return e;
  }
  ExprP binary(Pos pos, std::string op, ExprP a, ExprP b) {
    auto e = make(Expr::K::binary, pos, std::move(op));
    e->a = std::move(a);
    e->b = std::move(b);
    return finish(std::move(e));
  }

  ExprP parse_expr() {
    if (++expr_nest_ > 64) fail(peek().pos, "expression nested too deeply");
    ExprP e = parse_ternary();
    --expr_nest_;
    return e;
  }
  ExprP parse_ternary() {
    ExprP c = parse_or();
    if (!is_punct("?")) return c;
    const Pos pos = next().pos;
    ExprP a = parse_expr();
    expect_punct(":", "in `c ? a : b`");
    ExprP b = parse_expr();
    auto e = make(Expr::K::ternary, pos, "?");
    e->a = std::move(c);
    e->b = std::move(a);
    e->c = std::move(b);
    return finish(std::move(e));
  }
  ExprP parse_or() {
    ExprP l = parse_and();
    while (is_punct("||")) {
      const Pos p = next().pos;
      l = binary(p, "||", std::move(l), parse_and());
    }
    return l;
  }
  ExprP parse_and() {
    ExprP l = parse_cmp();
    while (is_punct("&&")) {
      const Pos p = next().pos;
      l = binary(p, "&&", std::move(l), parse_cmp());
    }
    return l;
  }
  ExprP parse_cmp() {
    ExprP l = parse_bitor();
    for (std::string_view op : {"==", "!=", "<", "<=", ">", ">="})
      if (is_punct(op)) {
        const Pos p = next().pos;
        l = binary(p, std::string(op), std::move(l), parse_bitor());
        for (std::string_view op2 : {"==", "!=", "<", "<=", ">", ">="})
          if (is_punct(op2)) fail(peek().pos, "comparisons do not chain: use && and parentheses");
        break;
      }
    return l;
  }
  ExprP parse_bitor() {
    ExprP l = parse_add();
    while (is_punct("|")) {
      const Pos p = next().pos;
      l = binary(p, "|", std::move(l), parse_add());
    }
    return l;
  }
  ExprP parse_add() {
    ExprP l = parse_mul();
    while (is_punct("+") || is_punct("-")) {
      const Token& t = next();
      l = binary(t.pos, t.s, std::move(l), parse_mul());
    }
    return l;
  }
  ExprP parse_mul() {
    ExprP l = parse_unary();
    while (is_punct("*") || is_punct("/") || is_punct("%")) {
      const Token& t = next();
      l = binary(t.pos, t.s, std::move(l), parse_unary());
    }
    return l;
  }
  ExprP parse_unary() {
    if (is_punct("-") || is_punct("!")) {
      if (++expr_nest_ > 64) fail(peek().pos, "expression nested too deeply");
      const Token& t = next();
      auto e = make(Expr::K::unary, t.pos, t.s);
      e->a = parse_unary();
      --expr_nest_;
      return finish(std::move(e));
    }
    return parse_postfix();
  }
  ExprP parse_postfix() {
    ExprP e = parse_primary();
    while (is_punct("[")) {
      const Pos p = next().pos;
      auto s = make(Expr::K::slice, p, "[]");
      s->a = std::move(e);
      s->b = parse_expr();
      expect_punct(":", "in a slice [a:b]");
      s->c = parse_expr();
      expect_punct("]", "closing a slice [a:b]");
      e = finish(std::move(s));
    }
    return e;
  }
  ExprP parse_primary() {
    const Token& t = peek();
    if (t.k == Tk::number && is_punct(".", 1) && peek(1).pos.col == t.end_col && peek(2).k == Tk::number &&
        peek(2).pos.col == peek(1).end_col) {
      // A version as written ("1.3", "6.12"): a symbol, compared with enumeration values.
      auto [w, wpos] = parse_word("a version");
      return make(Expr::K::name, wpos, w);
    }
    if (t.k == Tk::number) {
      next();
      auto e = make(Expr::K::num, t.pos, t.s);
      std::tie(e->num, e->unit) = number_value(t);
      return e;
    }
    if (t.k == Tk::string) {
      next();
      return make(Expr::K::str, t.pos, t.s);
    }
    if (t.k == Tk::ident) {
      next();
      if (t.s == "sent" && is_punct("(")) {
        next();
        const Token& n = expect_ident("a socket name in sent(SOCK)");
        auto e = make(Expr::K::sent, t.pos, n.s);
        auto arg = make(Expr::K::name, n.pos, n.s);
        e->a = std::move(arg);
        expect_punct(")", "closing sent(");
        return finish(std::move(e));
      }
      if (is_punct("(")) fail(peek().pos, "'" + t.s + "(' is not a function of expressions (only sent(SOCK) is)");
      return make(Expr::K::name, t.pos, t.s);
    }
    if (is_punct("(")) {
      next();
      ExprP e = parse_expr();
      expect_punct(")", "closing '('");
      return e;
    }
    fail(t.pos, "expected an expression, got " + describe(t));
  }

  // ---- statements ----
  void parse_scenario() {
    next();  // scenario
    auto [name, npos] = parse_word("the scenario's name");
    bool ok = !name.empty() && (is_digit(name[0]) || (name[0] >= 'a' && name[0] <= 'z'));
    for (char c : name) ok = ok && (is_digit(c) || (c >= 'a' && c <= 'z') || c == '-');
    if (!ok) fail(npos, "scenario name '" + name + "' must match [a-z0-9][a-z0-9-]*");
    ast_.name = name;
    ast_.summary = expect_string("the scenario's summary \"...\"");
    ast_.scenario_pos = npos;
    expect_eol("the scenario statement");
  }

  void declare_param(ParamSpec p, Pos name_pos, Pos default_pos, bool model) {
    if (auto it = param_names_.find(p.name); it != param_names_.end())
      fail(name_pos, "duplicate name '" + p.name + "' (already declared at " +
                         Loc{ast_.file, it->second.line, it->second.col}.str() + ")");
    const std::string problem = param_value_problem(p, p.default_value);
    if (!problem.empty()) fail(default_pos, "bad default: " + problem);
    param_names_[p.name] = name_pos;
    ast_.params.push_back(std::move(p));
    ast_.param_pos.push_back(name_pos);
    ast_.is_model.push_back(model);
  }

  void parse_param() {
    next();  // param
    ParamSpec p;
    const Token& n = expect_ident("a parameter name");
    p.name = n.s;
    const Pos npos = n.pos;
    expect_punct("=", "after the parameter's name");
    auto [def, dpos] = parse_word("the parameter's default value");
    if (is_punct("{")) {
      next();
      for (;;) {
        auto [c, cpos] = parse_word("a choice");
        if (std::find(p.choices.begin(), p.choices.end(), c) != p.choices.end())
          fail(cpos, "duplicate choice '" + c + "'");
        p.choices.push_back(c);
        if (is_punct(",")) {
          next();
          continue;
        }
        expect_punct("}", "closing the choices {a, b, ...}");
        break;
      }
      p.default_value = def;
    } else if (is_punct("[")) {
      next();
      p.integer = true;
      p.min = parse_int_literal("the range's minimum (an integer)");
      expect_punct(",", "between MIN and MAX");
      p.max = parse_int_literal("the range's maximum (an integer)");
      expect_punct("]", "closing [MIN, MAX]");
      if (p.min > p.max) fail(dpos, "empty range [" + std::to_string(p.min) + ", " + std::to_string(p.max) + "]");
      // The default as written ("64K") becomes the decimal string resolve_params compares.
      Token dt{Tk::number, def, dpos, 0};
      bool neg = !def.empty() && def[0] == '-';
      if (neg) dt.s = def.substr(1);
      if (dt.s.empty() || !is_digit(dt.s[0])) fail(dpos, "bad default: '" + def + "' is not an integer");
      const auto [v, u] = number_value(dt);
      if (u != Unit::none) fail(dpos, "bad default: '" + def + "' is a duration, not an integer");
      p.default_value = std::to_string(neg ? -v : v);
    } else {
      fail(peek().pos, "expected {a, b, ...} or [MIN, MAX] after the default, got " + describe(peek()));
    }
    if (peek().k == Tk::string) p.help = next().s;
    expect_eol("the parameter declaration");
    declare_param(std::move(p), npos, dpos, false);
  }

  void parse_model() {
    next();  // model
    const Token& n = expect_ident("a model setting's name");
    ParamSpec p;
    p.name = n.s;
    if (n.s == "fionread")
      p.choices = model::switch_choices<model::fionread_semantics>();
    else if (n.s == "self_redirect")
      p.choices = model::switch_choices<model::self_redirect>();
    else if (n.s == "kworker_cpu")
      p.choices = {"same", "other"};
    else if (n.s == "fix")
      p.choices = model::switch_choices<model::kfix>();
    else if (n.s == "kernel")
      p.choices = model::switch_choices<model::kernel_version>();
    else if (n.s == "acks")
      p.choices = model::switch_choices<model::tcp_acks>();
    else if (n.s == "preempt")
      p.choices = model::switch_choices<model::preempt_model>();
    else if (n.s == "cpu")
      p.choices = model::switch_choices<model::cpu_model>();
    else
      fail(n.pos, "unknown model setting '" + n.s + "' (expected one of: fionread, self_redirect, kworker_cpu, fix, kernel, acks, preempt, cpu)");
    const Pos npos = n.pos;
    expect_punct("=", "after the model setting's name");
    auto [def, dpos] = parse_word("the model setting's default value");
    p.default_value = def;
    if (is_punct("{")) {
      // The values this script explores, a subset of model/kconfig.h's, in the script's order.
      next();
      std::vector<std::string> sub;
      for (;;) {
        auto [c, cpos] = parse_word("a choice");
        if (std::find(p.choices.begin(), p.choices.end(), c) == p.choices.end()) {
          std::string all;
          for (auto& k : p.choices) all += (all.empty() ? "" : ", ") + k;
          fail(cpos, "'" + c + "' is not a value of model " + n.s + " (model/kconfig.h: " + all + ")");
        }
        if (std::find(sub.begin(), sub.end(), c) != sub.end()) fail(cpos, "duplicate choice '" + c + "'");
        sub.push_back(c);
        if (is_punct(",")) {
          next();
          continue;
        }
        expect_punct("}", "closing the choices {a, b, ...}");
        break;
      }
      p.choices = std::move(sub);
    }
    if (peek().k == Tk::string) p.help = next().s;
    expect_eol("the model declaration");
    declare_param(std::move(p), npos, dpos, true);
  }

  // `check strategy S`, `check budget N`, `check seed N`, `check require-exhaustive`, each at
  // most once; `check set K=V ...`, one case per line. The sets are resolved against the
  // declarations once the whole script is read (Script::parse), as they may come first.
  void parse_check() {
    next();  // check
    CheckPlan& c = ast_.check;
    // Not a structured binding: the lambda below captures them (clang 14, the fuzz build, cannot).
    const auto word = parse_word("strategy, budget, seed, require-exhaustive or set after check");
    const std::string& what = word.first;
    const Pos wpos = word.second;
    auto once = [&](bool already) {
      if (already) fail(wpos, "duplicate `check " + what + "`");
    };
    if (what == "strategy") {
      once(c.strategy.has_value());
      auto [v, vpos] = parse_word("random, pct, dfs or dpor");
      if (v != "random" && v != "pct" && v != "dfs" && v != "dpor")
        fail(vpos, "unknown strategy '" + v + "' (expected random, pct, dfs or dpor)");
      c.strategy = v;
    } else if (what == "budget" || what == "seed") {
      std::optional<uint64_t>& field = what == "budget" ? c.budget : c.seed;
      once(field.has_value());
      const Pos vpos = peek().pos;
      const int64_t v = parse_int_literal(what == "budget" ? "the budget (schedules)" : "the seed");
      if (v < (what == "budget" ? 1 : 0))
        fail(vpos, what == "budget" ? "the budget must be at least 1" : "the seed must not be negative");
      field = static_cast<uint64_t>(v);
    } else if (what == "require-exhaustive") {
      once(c.require_exhaustive);
      c.require_exhaustive = true;
    } else if (what == "set") {
      std::vector<std::string> set;
      std::set<std::string> keys;
      while (peek().k != Tk::newline && peek().k != Tk::end) {
        auto [k, kpos] = parse_word("a parameter name (KEY=VALUE)");
        if (!keys.insert(k).second) fail(kpos, "parameter '" + k + "' set twice on one check line");
        expect_punct("=", "after the parameter's name (KEY=VALUE)");
        auto [v, vpos] = parse_word("the parameter's value (KEY=VALUE)");
        set.push_back(k + "=" + v);
      }
      if (set.empty()) fail(peek().pos, "`check set` needs at least one KEY=VALUE");
      for (size_t i = 0; i < c.sets.size(); ++i)
        if (std::set<std::string>(c.sets[i].begin(), c.sets[i].end()) ==
            std::set<std::string>(set.begin(), set.end()))
          fail(wpos, "the same parameter set is already checked at " +
                         Loc{ast_.file, ast_.check_set_pos[i].line, ast_.check_set_pos[i].col}.str());
      c.sets.push_back(std::move(set));
      ast_.check_set_pos.push_back(wpos);
    } else {
      fail(wpos, "unknown check setting '" + what + "' (expected strategy, budget, seed, require-exhaustive or set)");
    }
    expect_eol("the check line");
  }

  // `crosscheck sweep KEY=V1,V2,...`: one axis of crosscheck's default grid. Resolved against
  // the declarations once the whole script is read (Script::parse).
  void parse_crosscheck_sweep() {
    const Pos pos = next().pos;  // crosscheck
    next();                      // sweep
    auto [k, kpos] = parse_word("a parameter name (KEY=V1,V2,...)");
    for (auto& a : ast_.sweeps)
      if (a.key == k) fail(kpos, "parameter '" + k + "' swept twice");
    expect_punct("=", "after the parameter's name (KEY=V1,V2,...)");
    SweepAxis axis{k, {}};
    for (;;) {
      auto [v, vpos] = parse_word("a value (KEY=V1,V2,...)");
      if (std::find(axis.values.begin(), axis.values.end(), v) != axis.values.end())
        fail(vpos, "value '" + v + "' twice in one sweep");
      axis.values.push_back(v);
      if (!is_punct(",")) break;
      next();
    }
    expect_eol("the crosscheck sweep line");
    ast_.sweeps.push_back(std::move(axis));
    ast_.sweep_pos.push_back(pos);
  }

  std::vector<Stmt> parse_block(Ctx ctx, uint32_t depth, Pos open, std::string_view what, bool* has_else) {
    if (depth > kMaxBlockDepth) fail(open, "blocks nested too deeply (more than 32 levels)");
    std::vector<Stmt> out;
    for (;;) {
      skip_newlines();
      const Token& t = peek();
      if (t.k == Tk::end) {
        if (depth == 0) return out;
        fail(open, "unterminated block: '" + std::string(what) + " {' has no closing '}'");
      }
      if (is_punct("}")) {
        if (depth == 0) fail(t.pos, "'}' closes no block");
        next();
        if (is_ident("else")) {
          if (!has_else) fail(peek().pos, "'else' follows only an `if` block");
          next();
          if (!is_punct("{")) fail(peek().pos, "expected '{' after else");
          next();
          expect_eol("'else {'");
          *has_else = true;
          return out;
        }
        expect_eol("'}'");
        return out;
      }
      if (depth == 0 && (is_ident("param") || is_ident("model"))) {
        // Declarations: they become ParamSpecs, not statements.
        if (is_ident("param")) parse_param(); else parse_model();
        continue;
      }
      if (depth == 0 && is_ident("crosscheck") && peek(1).k == Tk::ident && peek(1).s == "sweep") {
        parse_crosscheck_sweep();  // what `kpsim crosscheck` runs: no statement either
        continue;
      }
      // `check, x = create_pair(...)` and `check = map(...)` still name a socket or map.
      if (depth == 0 && is_ident("check") && !is_punct(",", 1) && !is_punct("=", 1)) {
        parse_check();  // what `kpsim check` runs: no statement either
        continue;
      }
      out.push_back(parse_stmt(ctx, depth));
    }
  }

  std::vector<Stmt> parse_body(Ctx ctx, uint32_t depth, Pos open, std::string_view what, bool* has_else) {
    if (!is_punct("{")) fail(peek().pos, "expected '{' to open the " + std::string(what) + " block, got " + describe(peek()));
    next();
    expect_eol("'{' (a block's statements start on the next line)");
    return parse_block(ctx, depth + 1, open, what, has_else);
  }

  Stmt parse_stmt(Ctx ctx, uint32_t depth) {
    const Token& t = peek();
    if (t.k != Tk::ident) fail(t.pos, "expected a statement, got " + describe(t));
    const std::string w = t.s;
    const Pos pos = t.pos;
    Stmt st;
    st.pos = pos;
    const bool top = ctx == Ctx::top;
    if (w == "scenario") fail(pos, "`scenario` appears once, as the first statement");
    if (w == "param" || w == "model" || (w == "check" && !is_punct(",", 1) && !is_punct("=", 1)))
      fail(pos, "`" + w + "` declarations belong at the top level, outside blocks");
    if (w == "limit") {
      if (!top) fail(pos, "`limit` belongs at the top level");
      next();
      const Token& k = expect_ident("steps or time");
      if (k.s != "steps" && k.s != "time") fail(k.pos, "unknown limit '" + k.s + "' (expected steps or time)");
      st.k = Stmt::K::limit;
      st.name = k.s;
      st.value = parse_expr();
      expect_eol("the limit");
      return st;
    }
    if (w == "let") {
      if (!top) fail(pos, "unsupported: let inside a thread (declare values before the first thread)");
      next();
      const Token& n = expect_ident("a name after let");
      st.k = Stmt::K::let;
      st.name = n.s;
      st.name_pos = n.pos;
      expect_punct("=", "after the let's name");
      st.value = parse_expr();
      expect_eol("the let's value");
      return st;
    }
    if (w == "if") {
      next();
      st.k = Stmt::K::if_;
      st.value = parse_expr();
      bool has_else = false;
      st.body = parse_body(ctx, depth, pos, "if", &has_else);
      if (has_else) {
        bool again = false;
        st.else_body = parse_block(ctx, depth + 1, pos, "else", &again);
        // parse_block only sets `again` on `} else {`, which needs has_else != nullptr; it is.
        if (again) fail(pos, "an `if` has at most one else");
      }
      return st;
    }
    if (w == "repeat") {
      if (top) fail(pos, "`repeat` is a thread step: it belongs inside a `thread NAME {` block");
      next();
      st.k = Stmt::K::repeat;
      st.value = parse_expr();
      st.body = parse_body(ctx, depth, pos, "repeat", nullptr);
      return st;
    }
    if (w == "thread") {
      if (!top) fail(pos, "threads do not nest: `thread` belongs at the top level");
      next();
      const Token& n = expect_ident("the thread's name");
      st.k = Stmt::K::thread;
      st.name = n.s;
      st.name_pos = n.pos;
      // `thread app:sender`: a task name with a prefix, as the kTLS seeds name their tasks.
      if (is_punct(":") && peek().pos.col == n.end_col && peek(1).k == Tk::ident &&
          peek(1).pos.col == peek().end_col) {
        next();
        st.name += ":" + next().s;
      }
      st.body = parse_body(Ctx::thread, depth, pos, "thread " + st.name, nullptr);
      return st;
    }
    if (w == "sysctl") {
      if (!top) fail(pos, "`sysctl` belongs at the top level (setup)");
      next();
      st.k = Stmt::K::sysctl;
      std::tie(st.name, st.name_pos) = parse_word("a sysctl name (net.ipv4.tcp_notsent_lowat)");
      expect_punct("=", "after the sysctl's name");
      st.value = parse_expr();
      expect_eol("the sysctl");
      return st;
    }
    if (w == "property" && !is_punct(",", 1) && !is_punct("=", 1)) {  // else a name: `property, b = ...`
      if (!top) fail(pos, "`property` belongs at the top level");
      next();
      st.k = Stmt::K::check;
      std::tie(st.name, st.name_pos) = parse_word("a property (tcp-seq-order, byte-conservation, no-stall)");
      if (is_punct("(")) {  // min-throughput(N)
        next();
        st.value = parse_expr();
        expect_punct(")", "after the property's argument");
      }
      expect_eol("the property");
      return st;
    }
    if (w == "window" && peek(1).k == Tk::ident && is_punct("(", 2)) {
      if (!top) fail(pos, "`window` belongs at the top level, after the threads it names");
      next();
      const Token& k = next();
      if (k.s != "cryptd_backlog" && k.s != "hold_until_closed" && k.s != "task_work")
        fail(k.pos, "unknown window '" + k.s + "' (expected cryptd_backlog, hold_until_closed or task_work)");
      st.k = Stmt::K::window;
      st.name = k.s;
      st.name_pos = k.pos;
      next();  // (
      if (!is_punct(")")) {
        for (;;) {
          st.args.push_back(parse_expr());
          if (!is_punct(",")) break;
          next();
        }
      }
      expect_punct(")", "closing window " + st.name + "(");
      const size_t want = st.name == "cryptd_backlog" ? 1 : st.name == "hold_until_closed" ? 2 : 3;
      if (st.args.size() != want)
        fail(pos, "window " + st.name + " takes " + std::to_string(want) + " argument" + (want == 1 ? "" : "s") +
                      ", got " + std::to_string(st.args.size()));
      expect_eol("the window");
      return st;
    }
    if (w == "verdict") {
      if (!top) fail(pos, "`verdict` belongs at the top level (setup)");
      next();
      expect_punct("(", "after verdict");
      const Token& m = expect_ident("the map's name");
      st.k = Stmt::K::verdict;
      st.name = m.s;
      st.name_pos = m.pos;
      expect_punct(")", "closing verdict(MAP");
      parse_verdict_rules(st, depth);
      return st;
    }
    if (is_punct(",", 1)) {
      if (!top) fail(pos, "unsupported: create_pair inside a thread (sockets are created in setup)");
      st.k = Stmt::K::pair;
      st.name = next().s;
      st.name_pos = pos;
      next();  // ,
      const Token& b = expect_ident("the second socket's name");
      st.name2 = b.s;
      st.name2_pos = b.pos;
      expect_punct("=", "after `A, B`");
      const Token& f = expect_ident("create_pair(PROTO)");
      if (f.s != "create_pair") fail(f.pos, "expected create_pair(PROTO), got '" + f.s + "'");
      expect_punct("(", "after create_pair");
      st.value = parse_expr();
      expect_punct(")", "closing create_pair(");
      expect_eol("create_pair(...)");
      return st;
    }
    if (is_punct("=", 1)) {
      if (!top) fail(pos, "unsupported: a map or a file inside a thread (they are created in setup)");
      st.k = Stmt::K::map;
      st.name = next().s;
      st.name_pos = pos;
      next();  // =
      const Token& f = peek();
      if (f.k == Tk::ident && f.s == "file") {
        next();
        st.k = Stmt::K::file;
        expect_punct("(", "after file");
        st.value = parse_expr();
        expect_punct(")", "closing file(");
        expect_eol("file(...)");
        return st;
      }
      if (f.k == Tk::ident && f.s == "pipe") {
        next();
        st.k = Stmt::K::pipe;
        expect_punct("(", "after pipe");
        expect_punct(")", "closing pipe(");
        expect_eol("pipe()");
        return st;
      }
      if (f.k == Tk::ident && f.s == "io_uring_setup") {
        next();
        st.k = Stmt::K::ring;
        expect_punct("(", "after io_uring_setup");
        st.value = parse_expr();
        expect_punct(")", "closing io_uring_setup(");
        expect_eol("io_uring_setup(...)");
        return st;
      }
      if (!(f.k == Tk::ident && f.s == "map"))
        fail(f.pos, "expected map(TYPE, MAX_ENTRIES), file(SIZE), pipe() or io_uring_setup(FLAGS) after '" + st.name +
                        " =' (values are declared with let)");
      next();
      expect_punct("(", "after map");
      st.args.push_back(parse_expr());
      expect_punct(",", "after the map type");
      st.value = parse_expr();
      expect_punct(")", "closing map(");
      expect_eol("map(...)");
      return st;
    }
    if (const CallSig* sig = find_call(w); sig && is_punct("(", 1)) {
      if (top && !sig->top)
        fail(pos, "'" + w + "' is a thread step: it belongs inside a `thread NAME {` block");
      if (!top && !sig->thread)
        fail(pos, "unsupported: " + w + " inside a thread (the runners call it in setup, before the threads)");
      return parse_call(*sig, pos, top);
    }
    fail(pos, "unknown statement '" + w + "' (expected one of: " +
                  std::string(top ? kTopStatements : kThreadStatements) + ")");
  }

  Stmt parse_call(const CallSig& sig, Pos pos, bool top) {
    Stmt st;
    st.k = Stmt::K::call;
    st.pos = pos;
    st.name = next().s;
    next();  // (
    if (!is_punct(")")) {
      for (;;) {
        st.args.push_back(parse_expr());
        if (is_punct(",")) {
          next();
          continue;
        }
        break;
      }
    }
    expect_punct(")", "closing " + st.name + "(");
    if (st.args.size() < sig.min_args || st.args.size() > sig.max_args) {
      const std::string want = sig.min_args == sig.max_args
                                   ? std::to_string(sig.min_args)
                                   : std::to_string(sig.min_args) + " or " + std::to_string(sig.max_args);
      fail(pos, st.name + " takes " + want + " argument" + (sig.max_args == 1 ? "" : "s") + ", got " +
                    std::to_string(st.args.size()));
    }
    if (is_punct("=")) {
      const Pos epos = next().pos;
      if (!sig.ret) fail(epos, "unsupported: an expectation on " + st.name);
      st.ret = parse_expr();
      if (is_ident("data")) {
        const Pos dpos = next().pos;
        if (!sig.data) fail(dpos, "unsupported: a data expectation on " + st.name);
        st.data = parse_expr();
      }
    } else if (is_ident("data")) {
      fail(peek().pos, "a data expectation follows `= N`: write `= N data ...`");
    }
    if (is_ident("within")) {
      const Pos wpos = next().pos;
      if (top) fail(wpos, "unsupported: `within` on a setup statement (only thread steps are timed)");
      st.within = parse_expr();
    }
    expect_eol(st.name + "(...)");
    return st;
  }

  void parse_verdict_rules(Stmt& st, uint32_t depth) {
    if (!is_punct("{")) fail(peek().pos, "expected '{' to open the verdict rules, got " + describe(peek()));
    next();
    expect_eol("'{' (one rule per line follows)");
    (void)depth;
    bool have_default = false;
    for (;;) {
      skip_newlines();
      if (peek().k == Tk::end) fail(st.pos, "unterminated block: 'verdict(" + st.name + ") {' has no closing '}'");
      if (is_punct("}")) {
        const Pos cpos = next().pos;
        expect_eol("'}'");
        if (!have_default)
          fail(cpos, "verdict: missing the default rule (a last line with only an action: pass, drop or redirect(KEY))");
        return;
      }
      Rule r;
      r.pos = peek().pos;
      if (have_default) fail(r.pos, "verdict: a rule after the default rule (the default comes last)");
      if (is_ident("on")) {
        next();
        const Token& s = expect_ident("a socket name after on");
        r.on = s.s;
        r.on_pos = s.pos;
        expect_punct(":", "after `on SOCK`");
      } else {
        have_default = true;
      }
      const Token& a = expect_ident("an action: pass, drop or redirect(KEY[, BPF_F_INGRESS])");
      r.action = a.s;
      r.action_pos = a.pos;
      if (a.s == "redirect") {
        expect_punct("(", "after redirect");
        r.args.push_back(parse_expr());
        if (is_punct(",")) {
          next();
          r.args.push_back(parse_expr());
        }
        expect_punct(")", "closing redirect(");
      } else if (a.s != "pass" && a.s != "drop") {
        fail(a.pos, "unknown verdict action '" + a.s + "' (expected pass, drop or redirect(KEY[, BPF_F_INGRESS]))");
      }
      expect_eol("the rule");
      st.rules.push_back(std::move(r));
    }
  }
};

// ---- values ----------------------------------------------------------------------------------

struct Value {
  enum class K : uint8_t { num, sym, str } k = K::num;
  int64_t i = 0;
  Unit unit = Unit::none;
  std::string s;                        // sym
  std::shared_ptr<const std::string> buf;  // str: buf[off, off+len)
  size_t off = 0, len = 0;
  bool bare = false;                    // sym: a bare word that names nothing
  Pos origin;                           // where a bare word was written
  const ParamSpec* param = nullptr;     // sym: the value of this enumeration parameter
  std::string_view view() const { return std::string_view(*buf).substr(off, len); }
};

Value num_value(int64_t i, Unit u = Unit::none) {
  Value v;
  v.i = i;
  v.unit = u;
  return v;
}
Value str_value(std::string s) {
  Value v;
  v.k = Value::K::str;
  v.len = s.size();
  v.buf = std::make_shared<const std::string>(std::move(s));
  return v;
}

constexpr size_t kMaxString = 64u << 20;
constexpr uint64_t kMaxDataBytes = 256u << 20;
constexpr uint64_t kMaxWork = 1000000;
constexpr uint64_t kMaxDurationUs = 24ull * 3600 * 1000000;
constexpr uint64_t kMaxLimitTimeUs = 30 * kMaxDurationUs;

std::string fmt_dur(uint64_t us) {
  if (us == 0) return "0";
  if (us % 1000000 == 0) return std::to_string(us / 1000000) + "s";
  if (us % 1000 == 0) return std::to_string(us / 1000) + "ms";
  return std::to_string(us) + "us";
}

struct FlagName {
  std::string_view name;
  uint32_t bit;
};
constexpr FlagName kFlags[] = {{"MSG_DONTWAIT", msg_dontwait},
                               {"MSG_PEEK", msg_peek},
                               {"MSG_WAITALL", msg_waitall},
                               {"MSG_MORE", msg_more}};
std::string fmt_flags(uint32_t f) {
  if (f == 0) return "0";
  std::string s;
  for (auto& [n, b] : kFlags)
    if (f & b) s += (s.empty() ? "" : "|") + std::string(n);
  return s;
}

// io_uring_setup() and splice() flags, as names: kept apart from the MSG_ bits (a value's bits
// say which family it is of; the Program stores what they mean, not the bits).
constexpr uint32_t kIoringSetupCoopTaskrun = 1u << 8, kIoringSetupSingleIssuer = 1u << 12,
                   kIoringSetupDeferTaskrun = 1u << 13, kSpliceFMore = 1u << 20;
constexpr FlagName kIoFlags[] = {{"IORING_SETUP_COOP_TASKRUN", kIoringSetupCoopTaskrun},
                                 {"IORING_SETUP_SINGLE_ISSUER", kIoringSetupSingleIssuer},
                                 {"IORING_SETUP_DEFER_TASKRUN", kIoringSetupDeferTaskrun},
                                 {"SPLICE_F_MORE", kSpliceFMore}};
constexpr uint32_t kMsgFlagBits = msg_dontwait | msg_peek | msg_waitall | msg_more;

struct Errno {
  std::string_view name;
  int64_t value;
};
// poll(2) events, with the kernel's values (a poll step's expectation compares revents with
// them): their own unit, so that they neither pass for MSG_ flags nor join them with |.
constexpr Errno kPollEvents[] = {{"POLLIN", kPollIn}, {"POLLOUT", kPollOut}, {"POLLERR", kPollErr},
                                 {"POLLHUP", kPollHup}};

std::string fmt_poll(uint32_t ev) {
  std::string s;
  for (auto& [n, b] : kPollEvents)
    if (ev & static_cast<uint32_t>(b)) s += (s.empty() ? "" : "|") + std::string(n);
  return s.empty() ? "0" : s;
}
constexpr Errno kErrnos[] = {{"EAGAIN", 11}, {"EIO", 5},    {"ETIME", 62},
                             {"EINVAL", 22}, {"ECONNRESET", 104}, {"EPIPE", 32},
                             {"EBADF", 9}};

// Words with a fixed meaning: they cannot be declared.
const std::set<std::string, std::less<>>& reserved() {
  static const std::set<std::string, std::less<>> r = [] {
    std::set<std::string, std::less<>> s = {
        "FIONREAD", "SHUT_WR", "SHUT_RD", "SHUT_RDWR", "SO_RCVBUF", "SO_SNDBUF", "TCP_NODELAY", "TCP_MAXSEG",
        "TCP_WINDOW_CLAMP",
        "BPF_MAP_TYPE_SOCKMAP", "BPF_MAP_TYPE_SOCKHASH", "BPF_F_INGRESS", "udp", "tcp", "sent",
        "data", "on", "pass", "drop", "redirect", "else"};
    for (auto& f : kFlags) s.emplace(f.name);
    for (auto& f : kIoFlags) s.emplace(f.name);
    for (auto& e : kErrnos) s.emplace(e.name);
    for (auto& e : kPollEvents) s.emplace(e.name);
    return s;
  }();
  return r;
}

// ---- instantiation ---------------------------------------------------------------------------

class Instantiator {
 public:
  Instantiator(const Ast& ast, const Params& p) : ast_(ast), params_(p) {}

  Program run() {
    prog_.name = ast_.name;
    prog_.summary = ast_.summary;
    prog_.file = ast_.file;
    bind_params();
    exec_top(ast_.top);
    if (prog_.threads.empty())
      fail(ast_.scenario_pos, "no thread: a script needs at least one `thread NAME {` block");
    make_payloads();
    check_data();
    return std::move(prog_);
  }

 private:
  enum class Kind : uint8_t { param, let, sock, map, thread, file, pipe, ring };
  struct Entry {
    Kind kind;
    Pos pos;
    Value v;
    uint32_t index = 0;
  };
  struct Deferred {
    uint32_t thread, step;
    const Expr* data;
  };

  const Ast& ast_;
  const Params& params_;
  Program prog_;
  std::map<std::string, Entry, std::less<>> names_;
  bool threads_started_ = false;
  bool in_data_ = false;
  uint64_t steps_ = 0, work_ = 0, data_bytes_ = 0;
  std::vector<Deferred> deferred_;
  std::map<uint32_t, uint32_t> ring_thread_;  // ring -> the thread that submits to it
  std::vector<std::shared_ptr<const std::string>> sent_;  // per socket, after make_payloads

  [[noreturn]] void fail(Pos p, const std::string& m) const { fail_at(ast_.file, p, m); }
  Loc loc(Pos p) const { return Loc{ast_.file, p.line, p.col}; }

  static std::string_view kind_name(Kind k) {
    switch (k) {
      case Kind::param: return "parameter";
      case Kind::let: return "let";
      case Kind::sock: return "socket";
      case Kind::map: return "map";
      case Kind::thread: return "thread";
      case Kind::file: return "file";
      case Kind::pipe: return "pipe";
      case Kind::ring: return "io_uring";
    }
    return "?";
  }

  void declare(const std::string& name, Pos pos, Kind kind, Value v = {}, uint32_t index = 0) {
    if (reserved().count(name)) fail(pos, "'" + name + "' is reserved and cannot be declared");
    if (auto it = names_.find(name); it != names_.end())
      fail(pos, "duplicate name '" + name + "' (already a " + std::string(kind_name(it->second.kind)) +
                    " at " + loc(it->second.pos).str() + ")");
    names_.emplace(name, Entry{kind, pos, std::move(v), index});
  }

  void bind_params() {
    for (size_t k = 0; k < ast_.params.size(); ++k) {
      const ParamSpec& spec = ast_.params[k];
      const std::string* given = params_.find(spec.name);
      const std::string value = given ? *given : spec.default_value;
      const std::string problem = param_value_problem(spec, value);
      if (!problem.empty()) fail(ast_.param_pos[k], problem);
      Value v;
      int64_t x = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), x);
      if (!value.empty() && ec == std::errc() && ptr == value.data() + value.size()) {
        v = num_value(x);
      } else {
        v.k = Value::K::sym;
        v.s = value;
        v.param = &spec;
      }
      declare(spec.name, ast_.param_pos[k], Kind::param, v);
      if (ast_.is_model[k]) {
        if (spec.name == "fionread") prog_.model.fionread = value;
        if (spec.name == "self_redirect") prog_.model.self_redirect = value;
        if (spec.name == "kworker_cpu") prog_.model.kworker_cpu = value;
        if (spec.name == "fix") prog_.model.fix = value;
        if (spec.name == "kernel") prog_.model.kernel = value;
        if (spec.name == "acks") prog_.model.acks = value;
        if (spec.name == "preempt") prog_.model.preempt = value;
        if (spec.name == "cpu") prog_.model.cpu = value;
      }
    }
  }

  // ---- expressions ----
  int64_t need_int(const Expr& e, const Value& v, bool allow_dur = false, bool allow_flags = false) const {
    if (v.k == Value::K::sym) {
      if (v.bare) fail(v.origin, "unknown name '" + v.s + "'");
      fail(e.pos, "'" + v.s + "'" + (v.param ? " (the value of " + v.param->name + ")" : std::string()) +
                      " is not an integer");
    }
    if (v.k == Value::K::str) fail(e.pos, "expected an integer, got a string");
    if (v.unit == Unit::dur && !allow_dur) fail(e.pos, "expected an integer, got a duration");
    if (v.unit == Unit::flags && !allow_flags) fail(e.pos, "expected an integer, got MSG_ flags");
    return v.i;
  }
  int64_t eval_int(const Expr& e) { return need_int(e, eval(e)); }

  static Unit combine(Unit a, Unit b) { return a == Unit::none ? b : a; }

  Value eval(const Expr& e) {
    switch (e.k) {
      case Expr::K::num: return num_value(e.num, e.unit);
      case Expr::K::str: return str_value(e.s);
      case Expr::K::name: {
        if (auto it = names_.find(e.s); it != names_.end()) {
          const Entry& en = it->second;
          if (en.kind == Kind::param || en.kind == Kind::let) return en.v;
          // A socket, map or thread name is no value: as a value it is the word itself
          // (`thread selftest` and `test == selftest` in one script).
          Value v;
          v.k = Value::K::sym;
          v.s = e.s;
          return v;
        }
        for (auto& f : kFlags)
          if (f.name == e.s) return num_value(f.bit, Unit::flags);
        for (auto& f : kIoFlags)
          if (f.name == e.s) return num_value(f.bit, Unit::flags);
        for (auto& er : kErrnos)
          if (er.name == e.s) return num_value(er.value);
        for (auto& pe : kPollEvents)
          if (pe.name == e.s) return num_value(pe.value, Unit::poll);
        Value v;
        v.k = Value::K::sym;
        v.s = e.s;
        v.bare = true;
        v.origin = e.pos;
        return v;
      }
      case Expr::K::unary: {
        const Value a = eval(*e.a);
        if (e.s == "!") return num_value(need_int(*e.a, a) == 0);
        const int64_t x = need_int(*e.a, a, true);
        if (x == INT64_MIN) fail(e.pos, "integer overflow");
        return num_value(-x, a.unit);
      }
      case Expr::K::ternary: {
        const int64_t c = eval_int(*e.a);
        return eval(c ? *e.b : *e.c);
      }
      case Expr::K::sent: {
        if (!in_data_) fail(e.pos, "sent(SOCK) is available only in a `data` expectation");
        const uint32_t s = sock_arg(*e.a);
        Value v;
        v.k = Value::K::str;
        v.buf = sent_[s];
        v.len = sent_[s]->size();
        return v;
      }
      case Expr::K::slice: {
        const Value base = eval(*e.a);
        if (base.k != Value::K::str) fail(e.pos, "only strings can be sliced");
        const int64_t a = eval_int(*e.b), b = eval_int(*e.c);
        if (a < 0 || b < a || static_cast<uint64_t>(b) > base.len)
          fail(e.pos, "slice [" + std::to_string(a) + ":" + std::to_string(b) + "] out of range of a " +
                          std::to_string(base.len) + "-byte string");
        Value v = base;
        v.off += static_cast<size_t>(a);
        v.len = static_cast<size_t>(b - a);
        return v;
      }
      case Expr::K::binary: return eval_binary(e);
    }
    fail(e.pos, "bad expression");
  }

  Value eval_binary(const Expr& e) {
    const std::string& op = e.s;
    if (op == "&&") return num_value(eval_int(*e.a) != 0 && eval_int(*e.b) != 0);
    if (op == "||") return num_value(eval_int(*e.a) != 0 || eval_int(*e.b) != 0);
    const Value a = eval(*e.a), b = eval(*e.b);
    if (op == "==" || op == "!=") {
      bool eq = false;
      if (a.k == Value::K::num && b.k == Value::K::num) {
        eq = a.i == b.i;
      } else if (a.k != Value::K::num && b.k != Value::K::num) {
        check_choice(a, b);
        check_choice(b, a);
        const std::string_view x = a.k == Value::K::sym ? std::string_view(a.s) : a.view();
        const std::string_view y = b.k == Value::K::sym ? std::string_view(b.s) : b.view();
        eq = x == y;
      } else {
        const Value& s = a.k == Value::K::num ? b : a;
        if (s.bare) fail(s.origin, "unknown name '" + s.s + "'");
        fail(e.pos, "cannot compare an integer with " +
                        std::string(s.k == Value::K::str ? "a string" : "'" + s.s + "'"));
      }
      return num_value((op == "==") == eq);
    }
    if (op == "+" && (a.k == Value::K::str || b.k == Value::K::str)) {
      if (a.k != Value::K::str || b.k != Value::K::str) fail(e.pos, "+ joins two strings or adds two integers");
      if (a.len + b.len > kMaxString) fail(e.pos, "string longer than 64 MiB");
      std::string s;
      s.reserve(a.len + b.len);
      s.append(a.view());
      s.append(b.view());
      return str_value(std::move(s));
    }
    const bool cmp = op == "<" || op == "<=" || op == ">" || op == ">=";
    const int64_t x = need_int(*e.a, a, true, op == "|"), y = need_int(*e.b, b, true, op == "|");
    if (cmp) {
      const bool r = op == "<" ? x < y : op == "<=" ? x <= y : op == ">" ? x > y : x >= y;
      return num_value(r);
    }
    if (op == "|" && (a.unit == Unit::poll || b.unit == Unit::poll)) {
      if (a.unit != Unit::poll || b.unit != Unit::poll) fail(e.pos, "| joins POLL events with POLL events only");
      return num_value(x | y, Unit::poll);
    }
    if (op == "|") {
      if (a.unit != Unit::flags && !(a.unit == Unit::none && x == 0))
        fail(e.a->pos, "| joins MSG_ flags");
      if (b.unit != Unit::flags && !(b.unit == Unit::none && y == 0))
        fail(e.b->pos, "| joins MSG_ flags");
      return num_value(x | y, Unit::flags);
    }
    if (a.unit == Unit::flags || b.unit == Unit::flags) fail(e.pos, "MSG_ flags combine only with |");
    if (a.unit == Unit::poll || b.unit == Unit::poll) fail(e.pos, "POLL events combine only with |");
    if (a.unit != Unit::none && b.unit != Unit::none && (op == "*" || op == "/" || op == "%"))
      fail(e.pos, "cannot " + std::string(op == "*" ? "multiply" : "divide") + " two durations");
    int64_t r = 0;
    bool over = false;
    if (op == "+") over = __builtin_add_overflow(x, y, &r);
    else if (op == "-") over = __builtin_sub_overflow(x, y, &r);
    else if (op == "*") over = __builtin_mul_overflow(x, y, &r);
    else {
      if (y == 0) fail(e.pos, "division by zero");
      if (x == INT64_MIN && y == -1) over = true;
      else r = op == "/" ? x / y : x % y;
    }
    if (over) fail(e.pos, "integer overflow");
    return num_value(r, combine(a.unit, b.unit));
  }

  // `proto == udpp`: a symbol that is not among the parameter's choices is a typo.
  void check_choice(const Value& p, const Value& other) const {
    if (!p.param || other.k != Value::K::sym || !other.bare) return;
    for (auto& c : p.param->choices)
      if (c == other.s) return;
    std::string all;
    for (auto& c : p.param->choices) all += (all.empty() ? "" : ", ") + c;
    fail(other.origin, "unknown name '" + other.s + "' (not a value of " + p.param->name + ": " + all + ")");
  }

  // ---- arguments ----
  const Entry& named(const Expr& e, Kind want, std::string_view what) const {
    if (e.k != Expr::K::name) fail(e.pos, "expected " + std::string(what));
    auto it = names_.find(e.s);
    if (it == names_.end()) fail(e.pos, "unknown name '" + e.s + "'");
    if (it->second.kind != want)
      fail(e.pos, "'" + e.s + "' is a " + std::string(kind_name(it->second.kind)) + ", not a " +
                      std::string(kind_name(want)));
    return it->second;
  }
  uint32_t sock_arg(const Expr& e) const { return named(e, Kind::sock, "a socket name").index; }
  const Map& map_arg(const Expr& e) const {
    named(e, Kind::map, "the map's name");
    return *prog_.map;
  }
  std::string word_arg(const Expr& e, std::string_view what) const {
    if (e.k != Expr::K::name) fail(e.pos, "expected " + std::string(what));
    return e.s;
  }
  uint32_t u32_arg(const Expr& e, int64_t lo, int64_t hi, std::string_view what) {
    const int64_t v = eval_int(e);
    if (v < lo || v > hi)
      fail(e.pos, std::string(what) + " " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]");
    return static_cast<uint32_t>(v);
  }
  uint64_t dur_arg(const Expr& e, bool positive) {
    const int64_t v = need_int(e, eval(e), true);
    if (v < (positive ? 1 : 0)) fail(e.pos, positive ? "the duration must be > 0" : "a negative duration");
    if (static_cast<uint64_t>(v) > kMaxDurationUs) fail(e.pos, "a duration longer than 24 h");
    return static_cast<uint64_t>(v);
  }
  uint32_t flags_arg(const Expr& e, uint32_t allowed, std::string_view call) {
    const Value v = eval(e);
    const int64_t x = need_int(e, v, false, true);
    if ((v.unit != Unit::flags && x != 0) || (static_cast<uint64_t>(x) & ~uint64_t{kMsgFlagBits}))
      fail(e.pos, "expected 0 or MSG_ flags joined with |");
    const auto f = static_cast<uint32_t>(x);
    for (auto& [n, b] : kFlags)
      if ((f & b) && !(allowed & b)) fail(e.pos, "unsupported: " + std::string(n) + " on " + std::string(call));
    return f;
  }
  uint32_t key_arg(const Expr& e) {
    const Map& m = *prog_.map;
    const int64_t hi = m.type == MapType::sockmap ? int64_t(m.max_entries) - 1 : int64_t(UINT32_MAX);
    return u32_arg(e, 0, hi, m.type == MapType::sockmap ? "key (a sockmap slot)" : "key");
  }

  // ---- statements ----
  void before_threads(const Stmt& st, std::string_view what) const {
    if (threads_started_)
      fail(st.pos, "unsupported: " + std::string(what) +
                       " after the first thread (setup and declarations come before the threads)");
  }

  void exec_top(const std::vector<Stmt>& stmts) {
    for (const Stmt& st : stmts) {
      switch (st.k) {
        case Stmt::K::let:
          before_threads(st, "let");
          declare(st.name, st.name_pos, Kind::let, eval(*st.value));
          break;
        case Stmt::K::limit:
          if (st.name == "steps") {
            const int64_t n = eval_int(*st.value);
            if (n < 1) fail(st.value->pos, "limit steps must be >= 1");
            prog_.max_steps = static_cast<uint64_t>(n);
          } else {
            // A model run's bound in virtual time may exceed a call's 24 h (a stalled kTLS
            // transfer takes hours): up to 30 days.
            const int64_t us = need_int(*st.value, eval(*st.value), true);
            if (us < 1) fail(st.value->pos, "the duration must be > 0");
            if (static_cast<uint64_t>(us) > kMaxLimitTimeUs) fail(st.value->pos, "limit time longer than 30 days");
            prog_.max_time_ns = static_cast<uint64_t>(us) * 1000;
          }
          break;
        case Stmt::K::pair: exec_pair(st); break;
        case Stmt::K::map: exec_map(st); break;
        case Stmt::K::file: exec_file(st); break;
        case Stmt::K::pipe:
          before_threads(st, "pipe");
          declare(st.name, st.name_pos, Kind::pipe, {}, static_cast<uint32_t>(prog_.pipes.size()));
          prog_.pipes.push_back(Pipe{st.name, loc(st.pos)});
          break;
        case Stmt::K::ring: exec_ring(st); break;
        case Stmt::K::sysctl: exec_sysctl(st); break;
        case Stmt::K::check: exec_check(st); break;
        case Stmt::K::window: exec_window(st); break;
        case Stmt::K::verdict: exec_verdict(st); break;
        case Stmt::K::call:
          before_threads(st, st.name);
          if (st.name == "setsockopt") exec_setsockopt(st);
          else if (st.name == "tls_tx") exec_tls_tx(st);
          else if (st.name == "tls_rx") exec_tls_rx(st);
          else if (st.name == "drain") exec_drain(st);
          else if (st.name == "io_uring_register_iowq_max_workers")
            prog_.rings[ring_arg(*st.args[0])].iowq_max = static_cast<uint32_t>(u64_arg(*st.args[1], 0, 64, "max workers"));
          else if (st.name == "io_uring_others") exec_others(st);
          else prog_.setup.push_back(make_step(st));
          break;
        case Stmt::K::if_:
          exec_top(eval_int(*st.value) ? st.body : st.else_body);
          break;
        case Stmt::K::thread: {
          threads_started_ = true;
          declare(st.name, st.name_pos, Kind::thread, {}, static_cast<uint32_t>(prog_.threads.size()));
          prog_.threads.push_back(Thread{st.name, {}, loc(st.pos)});
          exec_thread(st.body, static_cast<uint32_t>(prog_.threads.size() - 1));
          break;
        }
        case Stmt::K::repeat: fail(st.pos, "repeat outside a thread");
      }
    }
  }

  void exec_pair(const Stmt& st) {
    before_threads(st, "create_pair");
    const Value v = eval(*st.value);
    Proto proto = Proto::udp;
    if (v.k == Value::K::sym && v.s == "udp") proto = Proto::udp;
    else if (v.k == Value::K::sym && v.s == "tcp") proto = Proto::tcp;
    else if (v.k == Value::K::sym && v.bare) fail(v.origin, "unknown name '" + v.s + "'");
    else fail(st.value->pos, "create_pair: expected udp or tcp");
    const auto a = static_cast<uint32_t>(prog_.socks.size());
    declare(st.name, st.name_pos, Kind::sock, {}, a);
    declare(st.name2, st.name2_pos, Kind::sock, {}, a + 1);
    Socket sa, sb;
    sa.name = st.name, sb.name = st.name2;
    sa.proto = sb.proto = proto;
    sa.peer = a + 1, sb.peer = a;
    sa.server_side = true;
    sa.loc = loc(st.name_pos), sb.loc = loc(st.name2_pos);
    prog_.socks.push_back(sa);
    prog_.socks.push_back(sb);
  }

  void exec_map(const Stmt& st) {
    before_threads(st, "map");
    if (prog_.map) fail(st.pos, "unsupported: more than one map");
    const std::string type = word_arg(*st.args[0], "BPF_MAP_TYPE_SOCKMAP or BPF_MAP_TYPE_SOCKHASH");
    Map m;
    m.name = st.name;
    if (type == "BPF_MAP_TYPE_SOCKMAP") m.type = MapType::sockmap;
    else if (type == "BPF_MAP_TYPE_SOCKHASH") m.type = MapType::sockhash;
    else if (type.rfind("BPF_MAP_TYPE_", 0) == 0) fail(st.args[0]->pos, "unsupported: map type " + type);
    else fail(st.args[0]->pos, "expected BPF_MAP_TYPE_SOCKMAP or BPF_MAP_TYPE_SOCKHASH, got '" + type + "'");
    m.max_entries = u32_arg(*st.value, 1, 65536, "max_entries");
    m.loc = loc(st.pos);
    declare(st.name, st.name_pos, Kind::map);
    prog_.map = m;
  }

  void exec_verdict(const Stmt& st) {
    before_threads(st, "verdict");
    auto it = names_.find(st.name);
    if (it == names_.end()) fail(st.name_pos, "unknown name '" + st.name + "'");
    if (it->second.kind != Kind::map)
      fail(st.name_pos, "'" + st.name + "' is a " + std::string(kind_name(it->second.kind)) + ", not a map");
    if (!prog_.verdict.rules.empty()) fail(st.pos, "unsupported: more than one verdict program");
    if (!prog_.setup.empty())
      fail(st.pos, "unsupported: verdict after map_update (the runners attach the verdict program before filling the map)");
    Verdict v;
    v.loc = loc(st.pos);
    for (const Rule& r : st.rules) {
      VerdictRule vr;
      if (r.on) {
        auto s = names_.find(*r.on);
        if (s == names_.end()) fail(r.on_pos, "unknown name '" + *r.on + "'");
        if (s->second.kind != Kind::sock) fail(r.on_pos, "'" + *r.on + "' is not a socket");
        vr.on = s->second.index;
        for (auto& prev : v.rules)
          if (prev.on == vr.on) fail(r.on_pos, "verdict: a second rule for " + *r.on + " (the first one wins)");
      }
      if (r.action == "pass") vr.act.action = Action::pass;
      else if (r.action == "drop") vr.act.action = Action::drop;
      else {
        vr.act.action = Action::redirect;
        vr.act.key = key_arg(*r.args[0]);
        if (r.args.size() > 1) {
          if (word_arg(*r.args[1], "BPF_F_INGRESS") != "BPF_F_INGRESS")
            fail(r.args[1]->pos, "unsupported: redirect flag '" + r.args[1]->s + "' (supported: BPF_F_INGRESS)");
          vr.act.ingress = true;
        }
      }
      v.rules.push_back(vr);
    }
    prog_.verdict = std::move(v);
  }

  void exec_setsockopt(const Stmt& st) {
    const uint32_t s = sock_arg(*st.args[0]);
    const std::string opt = word_arg(*st.args[1], "a socket option name");
    Socket& so = prog_.socks[s];
    if (opt == "SO_RCVBUF" || opt == "SO_SNDBUF") {
      const uint32_t v = u32_arg(*st.args[2], 0, INT32_MAX, opt);
      (opt == "SO_RCVBUF" ? so.rcvbuf : so.sndbuf) = v;
    } else if (opt == "TCP_MAXSEG") {
      if (so.proto != Proto::tcp) fail(st.args[1]->pos, "unsupported: TCP_MAXSEG on a UDP socket");
      // do_tcp_setsockopt: TCP_MIN_MSS (88) up to MAX_TCP_WINDOW (32767). The model also takes
      // loopback's own (65495): its MSS parameter spans what loopback allows (docs/scripts.md).
      so.maxseg = u32_arg(*st.args[2], 88, 65495, "TCP_MAXSEG");
    } else if (opt == "TCP_WINDOW_CLAMP") {
      if (so.proto != Proto::tcp) fail(st.args[1]->pos, "unsupported: TCP_WINDOW_CLAMP on a UDP socket");
      // do_tcp_setsockopt: at least SOCK_MIN_RCVBUF / 2.
      so.window_clamp = u32_arg(*st.args[2], 1152, INT32_MAX, "TCP_WINDOW_CLAMP");
    } else if (opt == "TCP_NODELAY") {
      if (so.proto != Proto::tcp) fail(st.args[1]->pos, "unsupported: TCP_NODELAY on a UDP socket");
      if (eval_int(*st.args[2]) != 1) fail(st.args[2]->pos, "unsupported: TCP_NODELAY other than 1");
      so.nodelay = true;
    } else {
      fail(st.args[1]->pos, "unsupported: setsockopt option " + opt + " (supported: SO_RCVBUF, SO_SNDBUF, TCP_NODELAY, TCP_MAXSEG, TCP_WINDOW_CLAMP)");
    }
  }

  void exec_file(const Stmt& st) {
    before_threads(st, "file");
    const int64_t size = eval_int(*st.value);
    if (size < 1 || size > (int64_t{1} << 40))
      fail(st.value->pos, "file size " + std::to_string(size) + " is outside [1, 1T]");
    declare(st.name, st.name_pos, Kind::file, {}, static_cast<uint32_t>(prog_.files.size()));
    prog_.files.push_back(File{st.name, static_cast<uint64_t>(size), loc(st.pos)});
  }

  void exec_sysctl(const Stmt& st) {
    before_threads(st, "sysctl");
    if (st.name != "net.ipv4.tcp_notsent_lowat")
      fail(st.name_pos, "unsupported: sysctl " + st.name + " (supported: net.ipv4.tcp_notsent_lowat)");
    prog_.sysctl_tcp_notsent_lowat = u32_arg(*st.value, 0, UINT32_MAX, st.name);
  }

  void exec_check(const Stmt& st) {
    before_threads(st, "property");
    static constexpr std::string_view known[] = {"tcp-seq-order", "byte-conservation", "no-stall", "all-records-delivered",
                                                 "min-throughput", "rx-in-order"};
    if (std::find(std::begin(known), std::end(known), st.name) == std::end(known))
      fail(st.name_pos, "unknown property '" + st.name + "' (expected one of: tcp-seq-order, byte-conservation, no-stall, "
                                                        "all-records-delivered, min-throughput(KIB_PER_S), rx-in-order)");
    for (const Check& c : prog_.checks)
      if (c.name == st.name) fail(st.name_pos, "property " + st.name + " twice");
    Check c{st.name, loc(st.name_pos)};
    if (st.name == "min-throughput") {
      if (!st.value) fail(st.name_pos, "min-throughput needs its bound in KiB/s: min-throughput(1024)");
      c.min_kibps = u32_arg(*st.value, 1, UINT32_MAX, "min-throughput (KiB/s)");
    } else if (st.value) {
      fail(st.name_pos, "property " + st.name + " takes no argument");
    }
    prog_.checks.push_back(c);
  }

  // `window KIND(...)` (program.h Window): checked here, executed only by kernel runners.
  void exec_window(const Stmt& st) {
    Window w;
    w.loc = loc(st.pos);
    // A thread by its name, or by either part of a `task:name` one (`app`, `curl`), which must
    // then be unique: the threads are looked up directly, so `client` names the thread
    // client:curl here even where a socket is called client too.
    const auto thread_arg = [&](const Expr& e) {
      if (e.k != Expr::K::name) fail(e.pos, "expected a thread name");
      std::optional<uint32_t> found;
      for (uint32_t i = 0; i < prog_.threads.size(); ++i) {
        const std::string& n = prog_.threads[i].name;
        const auto colon = n.find(':');
        const bool match = n == e.s || (colon != std::string::npos &&
                                        (n.substr(0, colon) == e.s || n.substr(colon + 1) == e.s));
        if (!match) continue;
        if (found) fail(e.pos, "'" + e.s + "' names more than one thread; write the thread's whole name");
        found = i;
      }
      if (!found) fail(e.pos, "unknown thread '" + e.s + "' (a window comes after the threads it names)");
      return *found;
    };
    if (st.name == "cryptd_backlog") {
      w.kind = WindowKind::cryptd_backlog;
      w.records = u64_arg(*st.args[0], 1, 4096, "records");
    } else if (st.name == "hold_until_closed") {
      w.kind = WindowKind::hold_until_closed;
      w.thread = thread_arg(*st.args[0]);
      w.sock = sock_arg(*st.args[1]);
    } else {
      w.kind = WindowKind::task_work;
      w.thread = thread_arg(*st.args[0]);
      w.frame = word_arg(*st.args[1], "a kernel function name (the frame to wait for)");
      w.under = word_arg(*st.args[2], "a kernel function name (the frame it is called under)");
      bool ring = false;
      for (const Step& s : prog_.threads[w.thread].steps) ring = ring || s.op == Op::uring_splice_close;
      if (!ring)
        fail(st.args[0]->pos, "window task_work: thread " + prog_.threads[w.thread].name +
                                  " submits nothing to an io_uring, so no completion can be queued on it");
    }
    for (const Window& o : prog_.windows)
      if (o.kind == w.kind) fail(st.pos, "window " + st.name + " twice");
    prog_.windows.push_back(std::move(w));
  }

  // tls_tx and tls_rx take the same arguments: socket, TLS version, AEAD.
  TlsTx tls_args(const Stmt& st, const std::string& what) {
    TlsTx t;
    t.sock = sock_arg(*st.args[0]);
    if (prog_.socks[t.sock].proto != Proto::tcp) fail(st.args[0]->pos, what + ": kTLS needs a TCP socket");
    const Value v = eval(*st.args[1]);
    const std::string ver = v.k == Value::K::sym ? v.s : std::string();
    if (ver == "1.2") t.version = TlsVersion::v1_2;
    else if (ver == "1.3") t.version = TlsVersion::v1_3;
    else fail(st.args[1]->pos, what + ": expected the TLS version 1.2 or 1.3" + (ver.empty() ? std::string() : ", got " + ver));
    const Value c = eval(*st.args[2]);
    const std::string cr = c.k == Value::K::sym ? c.s : std::string();
    if (cr == "sync") t.crypto = Crypto::sync;
    else if (cr == "async") t.crypto = Crypto::async;
    else fail(st.args[2]->pos, what + ": expected the AEAD: sync (AES-NI) or async (cryptd)");
    t.loc = loc(st.pos);
    return t;
  }

  void exec_tls_tx(const Stmt& st) {
    if (prog_.tls_tx) fail(st.pos, "unsupported: kTLS TX on more than one socket");
    prog_.tls_tx = tls_args(st, "tls_tx");
  }

  void exec_tls_rx(const Stmt& st) {
    if (prog_.tls_rx) fail(st.pos, "unsupported: kTLS RX on more than one socket");
    prog_.tls_rx = tls_args(st, "tls_rx");
  }

  void exec_drain(const Stmt& st) {
    const uint32_t s = sock_arg(*st.args[0]);
    if (prog_.socks[s].proto != Proto::tcp) fail(st.args[0]->pos, "unsupported: drain on a UDP socket");
    prog_.socks[s].drain = true;
  }

  uint32_t file_arg(const Expr& e) const { return named(e, Kind::file, "a file name").index; }
  uint32_t pipe_arg(const Expr& e) const { return named(e, Kind::pipe, "a pipe name").index; }
  uint32_t ring_arg(const Expr& e) const { return named(e, Kind::ring, "an io_uring name").index; }
  // 0 or SPLICE_F_MORE.
  bool splice_flags_arg(const Expr& e) {
    const Value v = eval(e);
    const int64_t x = need_int(e, v, false, true);
    if (x != 0 && !(v.unit == Unit::flags && x == kSpliceFMore)) fail(e.pos, "expected 0 or SPLICE_F_MORE");
    return x != 0;
  }

  void exec_ring(const Stmt& st) {
    before_threads(st, "io_uring_setup");
    if (!prog_.rings.empty()) fail(st.pos, "unsupported: more than one io_uring");
    const Value v = eval(*st.value);
    const int64_t x = need_int(*st.value, v, false, true);
    Ring r;
    r.name = st.name;
    r.loc = loc(st.pos);
    if (x == 0) r.setup = RingSetup::normal;
    else if (v.unit == Unit::flags && x == kIoringSetupCoopTaskrun) r.setup = RingSetup::coop_taskrun;
    else if (v.unit == Unit::flags && x == (kIoringSetupSingleIssuer | kIoringSetupDeferTaskrun))
      r.setup = RingSetup::defer_taskrun;
    else
      fail(st.value->pos, "unsupported: io_uring_setup flags (supported: 0, IORING_SETUP_COOP_TASKRUN, "
                          "IORING_SETUP_SINGLE_ISSUER|IORING_SETUP_DEFER_TASKRUN)");
    declare(st.name, st.name_pos, Kind::ring, {}, 0);
    prog_.rings.push_back(r);
  }

  void exec_others(const Stmt& st) {
    Ring& r = prog_.rings[ring_arg(*st.args[0])];
    r.others = static_cast<uint32_t>(u64_arg(*st.args[1], 0, 4, "other requests"));
    const Value w = eval(*st.args[2]);
    const std::string at = w.k == Value::K::sym ? w.s : std::string();
    if (at != "close" && at != "start") fail(st.args[2]->pos, "io_uring_others: expected close or start");
    r.others_at_close = at == "close";
  }
  uint64_t u64_arg(const Expr& e, int64_t lo, int64_t hi, std::string_view what) {
    const int64_t v = eval_int(e);
    if (v < lo || v > hi)
      fail(e.pos, std::string(what) + " " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]");
    return static_cast<uint64_t>(v);
  }

  void count_work(Pos pos) {
    if (++work_ > kMaxWork) fail(pos, "too many steps (more than " + std::to_string(kMaxWork) + " repeat iterations)");
  }

  void exec_thread(const std::vector<Stmt>& stmts, uint32_t thread) {
    for (const Stmt& st : stmts) {
      switch (st.k) {
        case Stmt::K::if_: exec_thread(eval_int(*st.value) ? st.body : st.else_body, thread); break;
        case Stmt::K::repeat: {
          const int64_t n = eval_int(*st.value);
          if (n < 0) fail(st.value->pos, "repeat count " + std::to_string(n) + " is negative");
          if (static_cast<uint64_t>(n) > kMaxSteps)
            fail(st.value->pos, "too many steps (repeat " + std::to_string(n) + " is more than " +
                                    std::to_string(kMaxSteps) + ")");
          for (int64_t k = 0; k < n; ++k) {
            count_work(st.pos);
            exec_thread(st.body, thread);
          }
          break;
        }
        case Stmt::K::call: {
          if (++steps_ > kMaxSteps)
            fail(st.pos, "too many steps (more than " + std::to_string(kMaxSteps) + " after unrolling)");
          count_work(st.pos);
          auto& steps = prog_.threads[thread].steps;
          steps.push_back(make_step(st));
          if (steps.back().op == Op::uring_read || steps.back().op == Op::uring_send) {
            // The model's ring has one submitter, whose task work its completions run in; the
            // host runner creates the ring in the thread that uses it.
            auto [it, fresh] = ring_thread_.emplace(steps.back().ring, thread);
            if (!fresh && it->second != thread)
              fail(st.pos, "unsupported: io_uring " + prog_.rings[steps.back().ring].name +
                               " used from two threads (its submitter is one thread)");
          }
          if (st.data) deferred_.push_back(Deferred{thread, static_cast<uint32_t>(steps.size() - 1), st.data.get()});
          break;
        }
        default: fail(st.pos, "not a thread step");
      }
    }
  }

  Step make_step(const Stmt& st) {
    Step s;
    s.loc = loc(st.pos);
    const std::string& f = st.name;
    const auto& a = st.args;
    auto sock_name = [&](uint32_t i) { return prog_.socks[i].name; };
    constexpr uint32_t recv_flags = msg_dontwait | msg_peek | msg_waitall;
    if (f == "send") {
      s.op = Op::send;
      s.sock = sock_arg(*a[0]);
      s.len = u32_arg(*a[1], 0, kMaxSendBytes, "send size");
      if (a.size() > 2) s.flags = flags_arg(*a[2], msg_dontwait | msg_more, f);
      s.text = "send(" + sock_name(s.sock) + ", " + std::to_string(s.len) +
               (a.size() > 2 ? ", " + fmt_flags(s.flags) : "") + ")";
    } else if (f == "recv") {
      s.op = Op::recv;
      s.sock = sock_arg(*a[0]);
      s.len = u32_arg(*a[1], 0, kMaxSendBytes, "recv length");
      if (a.size() > 2) s.flags = flags_arg(*a[2], recv_flags, f);
      s.text = "recv(" + sock_name(s.sock) + ", " + std::to_string(s.len) +
               (a.size() > 2 ? ", " + fmt_flags(s.flags) : "") + ")";
    } else if (f == "recv_timeout" || f == "recv_loop") {
      s.op = f == "recv_loop" ? Op::recv_loop : Op::recv;
      s.sock = sock_arg(*a[0]);
      s.len = u32_arg(*a[1], 0, kMaxSendBytes, "recv length");
      s.flags = flags_arg(*a[2], f == "recv_loop" ? msg_dontwait | msg_waitall : recv_flags, f);
      s.timeout_us = dur_arg(*a[3], true);
      s.text = f + "(" + sock_name(s.sock) + ", " + std::to_string(s.len) + ", " + fmt_flags(s.flags) + ", " +
               fmt_dur(s.timeout_us) + ")";
    } else if (f == "ioctl") {
      s.op = Op::fionread;
      s.sock = sock_arg(*a[0]);
      const std::string req = word_arg(*a[1], "FIONREAD");
      if (req != "FIONREAD") fail(a[1]->pos, "unsupported: ioctl " + req + " (supported: FIONREAD)");
      s.text = "ioctl(" + sock_name(s.sock) + ", FIONREAD)";
    } else if (f == "wait_for_fionread") {
      s.op = Op::wait_fionread;
      s.sock = sock_arg(*a[0]);
      s.len = u32_arg(*a[1], 0, INT32_MAX, "wanted bytes");
      s.timeout_us = dur_arg(*a[2], true);
      s.poll_us = 1000;
      s.text = "wait_for_fionread(" + sock_name(s.sock) + ", " + std::to_string(s.len) + ", " +
               fmt_dur(s.timeout_us) + ")";
    } else if (f == "poll" || f == "select") {
      // One socket: poll for POLLIN, POLLOUT or both (tcp_poll / udp_poll decide both in the
      // worlds that run these), select for readability.
      s.op = Op::poll;
      s.sock = sock_arg(*a[0]);
      s.select_call = f == "select";
      s.events = kPollIn;
      if (f == "poll") {
        const Value v = eval(*a[1]);
        if (v.unit != Unit::poll)
          fail(a[1]->pos, "expected poll events: POLLIN, POLLOUT or POLLIN|POLLOUT");
        const auto ev = static_cast<uint32_t>(v.i);
        if (ev != kPollIn && ev != kPollOut && ev != (kPollIn | kPollOut))
          fail(a[1]->pos, "unsupported: poll events " + fmt_poll(ev) +
                              " (supported: POLLIN, POLLOUT, POLLIN|POLLOUT; POLLERR and POLLHUP are "
                              "always reported)");
        s.events = ev;
      }
      s.timeout_us = dur_arg(*a[f == "poll" ? 2 : 1], true);
      s.text = f + "(" + sock_name(s.sock) + (f == "poll" ? ", " + fmt_poll(s.events) + ", " : ", ") +
               fmt_dur(s.timeout_us) + ")";
    } else if (f == "usleep") {
      s.op = Op::usleep;
      s.timeout_us = dur_arg(*a[0], false);
      s.text = "usleep(" + fmt_dur(s.timeout_us) + ")";
    } else if (f == "shutdown") {
      s.op = Op::shutdown;
      s.sock = sock_arg(*a[0]);
      const std::string how = word_arg(*a[1], "SHUT_WR");
      if (how != "SHUT_WR") fail(a[1]->pos, "unsupported: shutdown " + how + " (supported: SHUT_WR)");
      s.text = "shutdown(" + sock_name(s.sock) + ", SHUT_WR)";
    } else if (f == "close") {
      s.op = Op::close;
      s.sock = sock_arg(*a[0]);
      s.text = "close(" + sock_name(s.sock) + ")";
    } else if (f == "sendfile" || f == "sendfile_loop" || f == "write" || f == "write_loop") {
      const bool loop = f == "sendfile_loop" || f == "write_loop";
      const bool is_sendfile = f == "sendfile" || f == "sendfile_loop";
      s.op = f == "sendfile" ? Op::sendfile : f == "write" ? Op::write : is_sendfile ? Op::sendfile_loop : Op::write_loop;
      s.sock = sock_arg(*a[0]);
      if (prog_.socks[s.sock].proto != Proto::tcp) fail(a[0]->pos, "unsupported: " + f + " on a UDP socket");
      size_t k = 1;
      if (is_sendfile || loop) s.file = file_arg(*a[k++]);
      s.total = u64_arg(*a[k++], 1, int64_t{1} << 40, loop ? "total bytes" : "length");
      if (loop) s.per_call = u64_arg(*a[k++], 1, int64_t{1} << 31, "bytes per call");
      s.text = f + "(" + sock_name(s.sock);
      if (is_sendfile || loop) s.text += ", " + prog_.files[s.file].name;
      s.text += ", " + std::to_string(s.total) + (loop ? ", " + std::to_string(s.per_call) : "") + ")";
    } else if (f == "splice_loop") {
      s.op = Op::splice_loop;
      s.file = file_arg(*a[0]);
      s.pipe = pipe_arg(*a[1]);
      s.sock = sock_arg(*a[2]);
      s.total = u64_arg(*a[3], 1, int64_t{1} << 40, "total bytes");
      s.splice_more = splice_flags_arg(*a[4]);
      s.text = "splice_loop(" + prog_.files[s.file].name + ", " + prog_.pipes[s.pipe].name + ", " + sock_name(s.sock) +
               ", " + std::to_string(s.total) + ", " + (s.splice_more ? "SPLICE_F_MORE" : "0") + ")";
    } else if (f == "uring_read" || f == "uring_send") {
      // One request on a socket, submitted and waited for: io_uring_enter(1, 1, GETEVENTS).
      s.op = f == "uring_read" ? Op::uring_read : Op::uring_send;
      s.ring = ring_arg(*a[0]);
      s.sock = sock_arg(*a[1]);
      s.len = u32_arg(*a[2], f == "uring_send" ? 1 : 0, kMaxSendBytes, f == "uring_send" ? "send size" : "read length");
      s.text = f + "(" + prog_.rings[s.ring].name + ", " + sock_name(s.sock) + ", " + std::to_string(s.len) + ")";
    } else if (f == "uring_splice_close") {
      s.op = Op::uring_splice_close;
      s.ring = ring_arg(*a[0]);
      s.file = file_arg(*a[1]);
      s.pipe = pipe_arg(*a[2]);
      s.sock = sock_arg(*a[3]);
      s.total = u64_arg(*a[4], 1, int64_t{1} << 40, "total bytes");
      s.splice_more = splice_flags_arg(*a[5]);
      s.text = "uring_splice_close(" + prog_.rings[s.ring].name + ", " + prog_.files[s.file].name + ", " +
               prog_.pipes[s.pipe].name + ", " + sock_name(s.sock) + ", " + std::to_string(s.total) + ", " +
               (s.splice_more ? "SPLICE_F_MORE" : "0") + ")";
    } else if (f == "read_until_eof") {
      s.op = Op::read_until_eof;
      s.sock = sock_arg(*a[0]);
      s.len = u32_arg(*a[1], 1, kMaxSendBytes, "read size");
      s.timeout_us = dur_arg(*a[2], false);
      s.text = "read_until_eof(" + sock_name(s.sock) + ", " + std::to_string(s.len) + ", " + fmt_dur(s.timeout_us) + ")";
    } else if (f == "map_update") {
      s.op = Op::map_update;
      const Map& m = map_arg(*a[0]);
      s.key = key_arg(*a[1]);
      s.sock = sock_arg(*a[2]);
      s.text = "map_update(" + m.name + ", " + std::to_string(s.key) + ", " + sock_name(s.sock) + ")";
    } else if (f == "map_delete") {
      s.op = Op::map_delete;
      const Map& m = map_arg(*a[0]);
      s.key = key_arg(*a[1]);
      s.text = "map_delete(" + m.name + ", " + std::to_string(s.key) + ")";
    } else {
      fail(st.pos, "unknown call " + f);
    }
    if (st.ret) s.expect.ret = eval_int(*st.ret);
    if (st.within) s.expect.within_us = dur_arg(*st.within, true);
    return s;
  }

  // ---- payloads and data ----
  void make_payloads() {
    uint64_t total = 0;
    std::vector<int> sender(prog_.socks.size(), -1);
    uint32_t senders = 0;
    const Step* fifth = nullptr;
    for (auto& t : prog_.threads)
      for (auto& s : t.steps) {
        if (s.op != Op::send && s.op != Op::uring_send) continue;
        total += s.len;
        if (total > kMaxTotalSendBytes)
          fail_at(s.loc.file, Pos{s.loc.line, s.loc.col}, "unsupported: more than 64 MiB sent in total");
        if (sender[s.sock] < 0) {
          if (senders == kMaxSendersBeyondAlphabet && !fifth) fifth = &s;
          sender[s.sock] = static_cast<int>(senders++);
        }
      }
    if (total > kAlphabetBytes && fifth)
      fail_at(fifth->loc.file, Pos{fifth->loc.line, fifth->loc.col},
              "unsupported: more than 4 sending sockets when payloads exceed 62 bytes");
    std::vector<std::string> streams(prog_.socks.size());
    uint64_t offset = 0;
    for (auto& t : prog_.threads)
      for (auto& s : t.steps) {
        if (s.op != Op::send && s.op != Op::uring_send) continue;
        std::string& stream = streams[s.sock];
        s.payload = payload_bytes(total, offset, static_cast<uint32_t>(sender[s.sock]), stream.size(), s.len);
        stream += s.payload;
        offset += s.len;
        s.len = 0;  // len is not a send's field: the payload is
      }
    for (auto& st : streams) sent_.push_back(std::make_shared<const std::string>(std::move(st)));
  }

  void check_data() {
    in_data_ = true;
    for (const Deferred& d : deferred_) {
      Step& s = prog_.threads[d.thread].steps[d.step];
      count_work(d.data->pos);
      const Value v = eval(*d.data);
      if (v.k != Value::K::str) fail(d.data->pos, "data expects a string: \"...\", sent(SOCK), + and [a:b]");
      if (v.len > s.len)
        fail(d.data->pos, "data is " + std::to_string(v.len) + " bytes, more than the " + std::to_string(s.len) +
                              "-byte buffer");
      if (s.expect.ret && *s.expect.ret >= 0 && static_cast<uint64_t>(*s.expect.ret) != v.len)
        fail(d.data->pos, "data is " + std::to_string(v.len) + " bytes but the call is expected to return " +
                              std::to_string(*s.expect.ret));
      data_bytes_ += v.len;
      if (data_bytes_ > kMaxDataBytes) fail(d.data->pos, "unsupported: more than 256 MiB of data expectations");
      s.expect.data = std::string(v.view());
    }
  }
};

}  // namespace

// ---- Script ----------------------------------------------------------------------------------

Script Script::parse(std::string file, std::string_view text) {
  auto ast = std::make_shared<Ast>();
  ast->file = std::move(file);
  ast->text = std::string(text);
  Parser(*ast, lex(ast->file, text)).run();
  Script s;
  s.ast_ = std::move(ast);
  (void)s.instantiate(Params{});  // every parameter at its default: the script must run
  // Every case `kpsim check` will run must resolve and run too: refused here, at its line.
  const Ast& a = *s.ast_;
  for (size_t i = 0; i < a.check.sets.size(); ++i) {
    const Pos at = a.check_set_pos[i];
    Params p;
    try {
      p = resolve_params(a.name, a.params, a.check.sets[i]);
    } catch (const ParamError& e) {
      fail_at(a.file, at, std::string("check set: ") + e.what());
    }
    (void)s.instantiate(p);
  }
  // Every value of a crosscheck sweep must be one the parameter takes.
  for (size_t i = 0; i < a.sweeps.size(); ++i)
    for (const std::string& v : a.sweeps[i].values) {
      try {
        (void)resolve_params(a.name, a.params, std::vector<std::string>{a.sweeps[i].key + "=" + v});
      } catch (const ParamError& e) {
        fail_at(a.file, a.sweep_pos[i], std::string("crosscheck sweep: ") + e.what());
      }
    }
  return s;
}

Script Script::load(const std::string& path) {
  const Loc at{path, 0, 0};
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw ScriptError(at, std::string("cannot read: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw ScriptError(at, "not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxScriptBytes) throw ScriptError(at, "larger than 1 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ScriptError(at, "cannot open");
  std::string text(kMaxScriptBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw ScriptError(at, "read error");
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxScriptBytes) throw ScriptError(at, "larger than 1 MiB");
  return parse(path, text);
}

const std::string& Script::name() const { return ast_->name; }
const std::string& Script::summary() const { return ast_->summary; }
const std::vector<ParamSpec>& Script::params() const { return ast_->params; }
const std::string& Script::text() const { return ast_->text; }
const CheckPlan& Script::check_plan() const { return ast_->check; }
const std::vector<SweepAxis>& Script::crosscheck_sweeps() const { return ast_->sweeps; }

bool Script::is_model_setting(std::string_view param) const {
  for (size_t i = 0; i < ast_->params.size(); ++i)
    if (ast_->params[i].name == param) return ast_->is_model[i];
  return false;
}

Program Script::instantiate(const Params& p) const { return Instantiator(*ast_, p).run(); }

}  // namespace kpsim::script
