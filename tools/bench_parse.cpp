#include "bench_parse.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace corvisor::bench {

namespace {

constexpr std::string_view kBlanks{" \t\r\n\0", 5};

std::string_view trim(std::string_view s) {
    std::size_t b = s.find_first_not_of(kBlanks);
    if (b == std::string_view::npos) {
        return {};
    }
    std::size_t e = s.find_last_not_of(kBlanks);
    return s.substr(b, e - b + 1);
}

// corvisor's console prefixes each guest line with "[<guest>] ".
std::string_view strip_guest_prefix(std::string_view s) {
    if (s.empty() || s.front() != '[') {
        return s;
    }
    std::size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ' ' ||
        s.substr(1, close - 1).find_first_of(" \t[") != std::string_view::npos) {
        return s;
    }
    return trim(s.substr(close + 2));
}

// Next blank-separated token of `s`, consumed from it.
std::string_view next_token(std::string_view& s) {
    std::size_t b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) {
        s = {};
        return {};
    }
    s.remove_prefix(b);
    std::size_t e = s.find_first_of(" \t");
    std::string_view tok = s.substr(0, e);
    s.remove_prefix(e == std::string_view::npos ? s.size() : e);
    return tok;
}

bool valid_name(std::string_view n) {
    if (n.empty() || n.size() > 64) {
        return false;
    }
    for (char c : n) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) {
            return false;
        }
    }
    return true;
}

Line malformed(std::string problem) {
    Line l;
    l.kind = Line::Kind::kMalformed;
    l.problem = std::move(problem);
    return l;
}

Line parse_figure(std::string_view rest) {
    enum Key : std::size_t { kName, kIters, kMin, kMedian, kMean, kP99, kUnit, kKeyCount };
    constexpr std::array<std::string_view, kKeyCount> kKeys{"name", "iters", "min", "median",
                                                            "mean", "p99",   "unit"};
    std::array<std::optional<std::string_view>, kKeyCount> values{};
    for (std::string_view tok = next_token(rest); !tok.empty(); tok = next_token(rest)) {
        std::size_t eq = tok.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            return malformed("token '" + std::string(tok) + "' is not key=value");
        }
        std::string_view key = tok.substr(0, eq);
        for (std::size_t k = 0; k < kKeyCount; ++k) {
            if (kKeys[k] == key) {
                if (values[k]) {
                    return malformed("key '" + std::string(key) + "' given twice");
                }
                values[k] = tok.substr(eq + 1);
            }
        }
        // Unknown keys are tolerated: a newer guest may print more.
    }
    for (std::size_t k = 0; k < kUnit; ++k) {
        if (!values[k]) {
            return malformed("missing " + std::string(kKeys[k]) + "=");
        }
    }
    Line l;
    l.kind = Line::Kind::kFigure;
    Figure& f = l.figure;
    if (!valid_name(*values[kName])) {
        return malformed("bad figure name '" + std::string(*values[kName]) + "'");
    }
    f.name = std::string(*values[kName]);
    std::array<std::pair<Key, std::uint64_t*>, 5> numbers{{{kIters, &f.iters},
                                                           {kMin, &f.min},
                                                           {kMedian, &f.median},
                                                           {kMean, &f.mean},
                                                           {kP99, &f.p99}}};
    for (auto [key, out] : numbers) {
        std::optional<std::uint64_t> v = parse_u64(*values[key]);
        if (!v) {
            return malformed(std::string(kKeys[key]) + "='" + std::string(*values[key]) +
                             "' is not an unsigned decimal");
        }
        *out = *v;
    }
    if (values[kUnit]) {
        if (!valid_name(*values[kUnit])) {
            return malformed("bad unit '" + std::string(*values[kUnit]) + "'");
        }
        f.unit = std::string(*values[kUnit]);
    }
    if (f.iters == 0) {
        return malformed("iters=0");
    }
    if (f.min > f.median || f.median > f.p99 || f.min > f.mean) {
        return malformed("inconsistent statistics (need min <= median <= p99 and min <= mean)");
    }
    return l;
}

// "<lo>-<hi>:<count>", lo <= hi.
std::optional<Bin> parse_bin(std::string_view s) {
    std::size_t dash = s.find('-');
    std::size_t colon = s.find(':');
    if (dash == std::string_view::npos || colon == std::string_view::npos || colon < dash) {
        return std::nullopt;
    }
    std::optional<std::uint64_t> lo = parse_u64(s.substr(0, dash));
    std::optional<std::uint64_t> hi = parse_u64(s.substr(dash + 1, colon - dash - 1));
    std::optional<std::uint64_t> count = parse_u64(s.substr(colon + 1));
    if (!lo || !hi || !count || *lo > *hi) {
        return std::nullopt;
    }
    return Bin{*lo, *hi, *count};
}

Line parse_hist(std::string_view rest) {
    std::optional<std::string_view> name;
    std::optional<std::string_view> bins;
    for (std::string_view tok = next_token(rest); !tok.empty(); tok = next_token(rest)) {
        std::size_t eq = tok.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            return malformed("hist: token '" + std::string(tok) + "' is not key=value");
        }
        std::string_view key = tok.substr(0, eq);
        std::optional<std::string_view>* slot =
            key == "name" ? &name : (key == "bins" ? &bins : nullptr);
        if (slot == nullptr) {
            continue;  // unknown keys are tolerated, as on figure lines
        }
        if (*slot) {
            return malformed("hist: key '" + std::string(key) + "' given twice");
        }
        *slot = tok.substr(eq + 1);
    }
    if (!name) {
        return malformed("hist without name=");
    }
    if (!valid_name(*name)) {
        return malformed("hist: bad figure name '" + std::string(*name) + "'");
    }
    if (!bins || bins->empty()) {
        return malformed("hist without bins=");
    }
    Line l;
    l.kind = Line::Kind::kHist;
    l.hist.name = std::string(*name);
    std::uint64_t total = 0;
    for (std::string_view list = *bins; !list.empty();) {
        std::size_t comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
        std::optional<Bin> b = parse_bin(item);
        if (!b) {
            return malformed("hist: bin '" + std::string(item) + "' is not <lo>-<hi>:<count>");
        }
        if (!l.hist.bins.empty() && b->lo <= l.hist.bins.back().hi) {
            return malformed("hist: bin '" + std::string(item) + "' overlaps or precedes the last");
        }
        if (b->count > UINT64_MAX - total) {
            return malformed("hist: counts overflow");
        }
        total += b->count;
        l.hist.bins.push_back(*b);
        if (comma != std::string_view::npos && list.empty()) {
            return malformed("hist: trailing ',' in bins=");
        }
    }
    return l;
}

Line parse_skip(std::string_view rest) {
    std::string_view name_tok = next_token(rest);
    if (name_tok.substr(0, 5) != "name=") {
        return malformed("skip without name=");
    }
    std::string_view name = name_tok.substr(5);
    if (!valid_name(name)) {
        return malformed("bad figure name '" + std::string(name) + "'");
    }
    Line l;
    l.kind = Line::Kind::kSkip;
    l.skip.name = std::string(name);
    rest = trim(rest);
    if (rest.substr(0, 7) == "reason=") {
        rest.remove_prefix(7);
    }
    l.skip.reason = rest.empty() ? "unspecified" : std::string(rest);
    return l;
}

}  // namespace

std::optional<std::uint64_t> parse_u64(std::string_view s) {
    if (s.empty() || s.front() < '0' || s.front() > '9') {
        return std::nullopt;
    }
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
    if (ec != std::errc{} || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

Line parse_line(std::string_view line) {
    std::string_view s = strip_guest_prefix(trim(line));
    if (s.substr(0, 5) != "BENCH" || (s.size() > 5 && s[5] != ' ' && s[5] != '\t')) {
        return Line{};
    }
    std::string_view rest = s.substr(5);
    std::string_view first = next_token(rest);
    if (first == "done") {
        if (!trim(rest).empty()) {
            return malformed("text after 'BENCH done'");
        }
        Line l;
        l.kind = Line::Kind::kDone;
        return l;
    }
    if (first == "skip") {
        return parse_skip(rest);
    }
    if (first == "hist") {
        return parse_hist(rest);
    }
    if (first.empty()) {
        return malformed("empty BENCH line");
    }
    return parse_figure(s.substr(5));
}

const Figure* Log::find(std::string_view name) const {
    for (const Figure& f : figures) {
        if (f.name == name) {
            return &f;
        }
    }
    return nullptr;
}

const Skip* Log::find_skip(std::string_view name) const {
    for (const Skip& s : skips) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

namespace {

// Gives `hist` to its figure; why not, if it does not fit.
std::optional<std::string> attach_hist(Log& log, Hist hist) {
    auto f = std::find_if(log.figures.begin(), log.figures.end(),
                          [&](const Figure& x) { return x.name == hist.name; });
    if (f == log.figures.end()) {
        return "no figure line for '" + hist.name + "' before it";
    }
    if (!f->hist.empty()) {
        return "'" + hist.name + "' has a histogram already; keeping the first";
    }
    std::uint64_t total = 0;
    for (const Bin& b : hist.bins) {
        total += b.count;  // parse_hist checked that this does not overflow
    }
    if (total != f->iters) {
        return "counts of '" + hist.name + "' sum to " + std::to_string(total) +
               ", not iters=" + std::to_string(f->iters);
    }
    f->hist = std::move(hist.bins);
    return std::nullopt;
}

}  // namespace

Log parse_log(std::string_view text) {
    Log log;
    std::size_t number = 0;
    while (!text.empty()) {
        ++number;
        std::size_t nl = text.find('\n');
        std::string_view raw = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);

        Line l = parse_line(raw);
        bool measured = l.kind == Line::Kind::kFigure || l.kind == Line::Kind::kSkip ||
                        l.kind == Line::Kind::kHist;
        if (measured && log.done) {
            log.warnings.push_back({number, "BENCH line after 'BENCH done'"});
        }
        switch (l.kind) {
            case Line::Kind::kOther:
                break;
            case Line::Kind::kDone:
                log.done = true;
                break;
            case Line::Kind::kMalformed:
                log.warnings.push_back({number, "malformed BENCH line skipped: " + l.problem});
                break;
            case Line::Kind::kHist:
                if (std::optional<std::string> problem = attach_hist(log, std::move(l.hist))) {
                    log.warnings.push_back({number, "BENCH hist line skipped: " + *problem});
                }
                break;
            case Line::Kind::kFigure:
            case Line::Kind::kSkip: {
                const std::string& name =
                    l.kind == Line::Kind::kFigure ? l.figure.name : l.skip.name;
                if (log.find(name) != nullptr || log.find_skip(name) != nullptr) {
                    log.warnings.push_back(
                        {number, "figure '" + name + "' reported again; keeping the first"});
                    break;
                }
                log.order.push_back(name);
                if (l.kind == Line::Kind::kFigure) {
                    log.figures.push_back(std::move(l.figure));
                } else {
                    log.skips.push_back(std::move(l.skip));
                }
                break;
            }
        }
    }
    return log;
}

}  // namespace corvisor::bench
