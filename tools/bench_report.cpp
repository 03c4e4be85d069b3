// bench_report: the latency table of docs/benchmarks.md from benchmark-guest logs.
//
//   bench_report --system corvisor=corvisor.log --system bare=bare.log
//                [--target hvc=100 ...] [--note hvc="text" ...]
//                [--json OUT.json] [--svg OUT.svg] [--txt OUT.txt]
//                [--mode "icount shift=4"] [--unit instructions] [--fail-on-over]
//
// The first --system is the one under test: ratios are first/other on the medians, and targets
// apply to its median. Figures with a `BENCH hist` line (the interrupt figures) get their bins in
// the JSON ("hist": [{"lo", "hi", "count"}, ...], absent otherwise) and one histogram panel per
// system below the SVG's bar chart. Exit status: 0 (OVER is reported, not failed, unless
// --fail-on-over: 3), 1 when a log cannot be read, 2 on a usage error.
#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench_parse.hpp"

namespace {

using corvisor::bench::Bin;
using corvisor::bench::Figure;
using corvisor::bench::Log;
using corvisor::bench::Skip;

struct System {
    std::string name;
    std::string path;
    Log log;
};

struct Target {
    std::string figure;
    std::uint64_t max = 0;
};

struct Note {
    std::string figure;
    std::string text;
};

struct Options {
    std::vector<System> systems;
    std::vector<Target> targets;
    std::vector<Note> notes;
    std::string json_path;
    std::string svg_path;
    std::string txt_path;
    std::string mode = "icount shift=4";
    std::string unit = "instructions";
    bool fail_on_over = false;
};

enum class Verdict { kPass, kOver, kSkipped, kMissing };

std::string_view verdict_name(Verdict v) {
    switch (v) {
        case Verdict::kPass:
            return "PASS";
        case Verdict::kOver:
            return "OVER";
        case Verdict::kSkipped:
            return "SKIPPED";
        case Verdict::kMissing:
            return "MISSING";
    }
    return "?";
}

[[noreturn]] void usage(std::string_view problem) {
    fmt::print(
        stderr,
        "bench_report: {}\n"
        "usage: bench_report --system NAME=LOG [--system NAME=LOG ...] [--target FIG=N ...]\n"
        "                    [--note FIG=TEXT ...] [--json OUT] [--svg OUT] [--txt OUT]\n"
        "                    [--mode TEXT] [--unit TEXT] [--fail-on-over]\n",
        problem);
    std::exit(2);
}

std::pair<std::string, std::string> split_assignment(std::string_view opt, std::string_view arg) {
    std::size_t eq = arg.find('=');
    if (eq == std::string_view::npos || eq == 0) {
        usage(fmt::format("{} wants NAME=VALUE, got '{}'", opt, arg));
    }
    return {std::string(arg.substr(0, eq)), std::string(arg.substr(eq + 1))};
}

Options parse_args(int argc, char** argv) {
    Options o;
    std::vector<std::string_view> args(argv + 1, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= args.size()) {
                usage(fmt::format("{} needs a value", a));
            }
            return args[++i];
        };
        if (a == "--system") {
            auto [name, path] = split_assignment(a, value());
            for (const System& s : o.systems) {
                if (s.name == name) {
                    usage(fmt::format("system '{}' given twice", name));
                }
            }
            o.systems.push_back({name, path, {}});
        } else if (a == "--target") {
            auto [fig, max] = split_assignment(a, value());
            std::optional<std::uint64_t> n = corvisor::bench::parse_u64(max);
            if (!n) {
                usage(fmt::format("--target {}: '{}' is not an unsigned number", fig, max));
            }
            o.targets.push_back({fig, *n});
        } else if (a == "--note") {
            auto [fig, text] = split_assignment(a, value());
            o.notes.push_back({fig, text});
        } else if (a == "--json") {
            o.json_path = value();
        } else if (a == "--svg") {
            o.svg_path = value();
        } else if (a == "--txt") {
            o.txt_path = value();
        } else if (a == "--mode") {
            o.mode = value();
        } else if (a == "--unit") {
            o.unit = value();
        } else if (a == "--fail-on-over") {
            o.fail_on_over = true;
        } else if (a == "--help" || a == "-h") {
            usage("help");
        } else {
            usage(fmt::format("unknown argument '{}'", a));
        }
    }
    if (o.systems.empty()) {
        usage("give at least one --system NAME=LOG");
    }
    return o;
}

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return std::move(ss).str();
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
        fmt::print(stderr, "bench_report: cannot write {}\n", path);
        return false;
    }
    return true;
}

// Every figure name, in order of first appearance (systems in order), then targets on figures no
// log has, so that a missing figure still shows.
std::vector<std::string> figure_names(const Options& o) {
    std::vector<std::string> names;
    auto add = [&](const std::string& n) {
        if (std::find(names.begin(), names.end(), n) == names.end()) {
            names.push_back(n);
        }
    };
    for (const System& s : o.systems) {
        for (const std::string& n : s.log.order) {
            add(n);
        }
    }
    for (const Target& t : o.targets) {
        add(t.figure);
    }
    return names;
}

const Target* find_target(const Options& o, std::string_view fig) {
    for (const Target& t : o.targets) {
        if (t.figure == fig) {
            return &t;
        }
    }
    return nullptr;
}

Verdict judge(const System& s, const Target& t) {
    if (const Figure* f = s.log.find(t.figure)) {
        return f->median <= t.max ? Verdict::kPass : Verdict::kOver;
    }
    return s.log.find_skip(t.figure) != nullptr ? Verdict::kSkipped : Verdict::kMissing;
}

std::optional<double> ratio(const System& a, const System& b, std::string_view fig) {
    const Figure* fa = a.log.find(fig);
    const Figure* fb = b.log.find(fig);
    if (fa == nullptr || fb == nullptr || fb->median == 0) {
        return std::nullopt;
    }
    return static_cast<double>(fa->median) / static_cast<double>(fb->median);
}

// ---- Text table ----------------------------------------------------------------------------

struct Table {
    std::vector<std::vector<std::string>> rows;
    std::vector<bool> left;  // per column: left-aligned

    std::string render() const {
        std::vector<std::size_t> width(left.size(), 0);
        for (const auto& r : rows) {
            for (std::size_t c = 0; c < r.size(); ++c) {
                width[c] = std::max(width[c], r[c].size());
            }
        }
        std::string out;
        for (const auto& r : rows) {
            std::string line;
            for (std::size_t c = 0; c < r.size(); ++c) {
                if (c > 0) {
                    line += "  ";
                }
                line += left[c] ? fmt::format("{:<{}}", r[c], width[c])
                                : fmt::format("{:>{}}", r[c], width[c]);
            }
            while (!line.empty() && line.back() == ' ') {
                line.pop_back();
            }
            out += line + "\n";
        }
        return out;
    }
};

std::string render_text(const Options& o, const std::vector<std::string>& names) {
    const System& sut = o.systems.front();
    Table t;
    std::vector<std::string> head1{"figure"};
    std::vector<std::string> head2{""};
    t.left.push_back(true);
    for (const System& s : o.systems) {
        head1.insert(head1.end(), {s.name, "", ""});
        head2.insert(head2.end(), {"median", "min", "p99"});
        t.left.insert(t.left.end(), {false, false, false});
    }
    for (std::size_t i = 1; i < o.systems.size(); ++i) {
        head1.push_back(fmt::format("{}/{}", sut.name, o.systems[i].name));
        head2.push_back("(median)");
        t.left.push_back(false);
    }
    if (!o.targets.empty()) {
        head1.insert(head1.end(), {"target", "verdict"});
        head2.insert(head2.end(), {fmt::format("({})", sut.name), ""});
        t.left.insert(t.left.end(), {false, true});
    }
    head1.push_back("note");
    head2.push_back("");
    t.left.push_back(true);
    t.rows.push_back(head1);
    t.rows.push_back(head2);

    std::vector<std::string> footnotes;
    for (const std::string& n : names) {
        std::vector<std::string> row{n};
        std::vector<std::string> units;
        for (const System& s : o.systems) {
            if (const Figure* f = s.log.find(n)) {
                row.insert(row.end(), {fmt::format("{}", f->median), fmt::format("{}", f->min),
                                       fmt::format("{}", f->p99)});
                if (f->unit != "ticks") {
                    units.push_back(fmt::format("{} in {}", s.name, f->unit));
                }
            } else if (s.log.find_skip(n) != nullptr) {
                row.insert(row.end(), {"skip", "", ""});
            } else {
                row.insert(row.end(), {"-", "", ""});
            }
        }
        for (std::size_t i = 1; i < o.systems.size(); ++i) {
            std::optional<double> r = ratio(sut, o.systems[i], n);
            row.push_back(r ? fmt::format("{:.1f}x", *r) : "-");
        }
        if (!o.targets.empty()) {
            if (const Target* tg = find_target(o, n)) {
                row.push_back(fmt::format("<= {}", tg->max));
                row.push_back(std::string(verdict_name(judge(sut, *tg))));
            } else {
                row.insert(row.end(), {"", ""});
            }
        }
        std::string note;
        for (const Note& nt : o.notes) {
            if (nt.figure == n) {
                footnotes.push_back(fmt::format("[{}] {}: {}", footnotes.size() + 1, n, nt.text));
                note += fmt::format("[{}]", footnotes.size());
            }
        }
        for (const std::string& u : units) {
            note += (note.empty() ? "" : " ") + u;
        }
        row.push_back(note);
        t.rows.push_back(row);
    }

    std::string out = fmt::format("Latency figures, {}: {} per operation (guest loop included)\n",
                                  o.mode, o.unit);
    for (const System& s : o.systems) {
        out += fmt::format("  {}: {}\n", s.name, s.path);
    }
    out += "\n" + t.render();
    for (const std::string& f : footnotes) {
        out += f + "\n";
    }
    for (const System& s : o.systems) {
        for (const Skip& k : s.log.skips) {
            out += fmt::format("skipped on {}: {}: {}\n", s.name, k.name, k.reason);
        }
    }
    if (!o.targets.empty()) {
        std::size_t pass = 0;
        std::vector<std::string> failing;
        for (const Target& tg : o.targets) {
            Verdict v = judge(sut, tg);
            if (v == Verdict::kPass) {
                ++pass;
            } else if (v == Verdict::kOver) {
                failing.push_back(
                    fmt::format("{} {} > {}", tg.figure, sut.log.find(tg.figure)->median, tg.max));
            } else {
                failing.push_back(fmt::format("{} {}", tg.figure, verdict_name(v)));
            }
        }
        out += fmt::format("\nSUMMARY: targets on {} (median): {} of {} PASS", sut.name, pass,
                           o.targets.size());
        if (!failing.empty()) {
            out += fmt::format("; not met: {}", fmt::join(failing, ", "));
        }
        out += "\n";
    }
    return out;
}

// ---- JSON ----------------------------------------------------------------------------------

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                } else {
                    out += ch;  // UTF-8 bytes pass through unchanged
                }
        }
    }
    return out + "\"";
}

std::string render_json(const Options& o, const std::vector<std::string>& names) {
    const System& sut = o.systems.front();
    std::string out = "{\n";
    out +=
        fmt::format("  \"mode\": {},\n  \"unit\": {},\n", json_string(o.mode), json_string(o.unit));
    std::vector<std::string> sys;
    for (const System& s : o.systems) {
        sys.push_back(json_string(s.name));
    }
    out += fmt::format("  \"systems\": [{}],\n", fmt::join(sys, ", "));

    out += "  \"figures\": {";
    for (std::size_t i = 0; i < names.size(); ++i) {
        out += fmt::format("{}\n    {}: {{", i ? "," : "", json_string(names[i]));
        bool first = true;
        for (const System& s : o.systems) {
            std::string body;
            if (const Figure* f = s.log.find(names[i])) {
                body = fmt::format(
                    "{{\"min\": {}, \"median\": {}, \"mean\": {}, \"p99\": {}, \"iters\": {}, "
                    "\"raw_unit\": {}",
                    f->min, f->median, f->mean, f->p99, f->iters, json_string(f->unit));
                if (!f->hist.empty()) {
                    std::vector<std::string> bins;
                    for (const Bin& b : f->hist) {
                        bins.push_back(fmt::format("{{\"lo\": {}, \"hi\": {}, \"count\": {}}}",
                                                   b.lo, b.hi, b.count));
                    }
                    body += fmt::format(", \"hist\": [{}]", fmt::join(bins, ", "));
                }
                body += "}";
            } else if (const Skip* k = s.log.find_skip(names[i])) {
                body = fmt::format("{{\"skipped\": {}}}", json_string(k->reason));
            } else {
                continue;
            }
            out += fmt::format("{}\n      {}: {}", first ? "" : ",", json_string(s.name), body);
            first = false;
        }
        out += first ? "}" : "\n    }";
    }
    out += names.empty() ? "},\n" : "\n  },\n";

    out += "  \"ratios\": {";
    bool first_fig = true;
    for (const std::string& n : names) {
        std::vector<std::string> parts;
        for (std::size_t i = 1; i < o.systems.size(); ++i) {
            if (std::optional<double> r = ratio(sut, o.systems[i], n)) {
                parts.push_back(
                    fmt::format("{}: {:.4f}", json_string(sut.name + "/" + o.systems[i].name), *r));
            }
        }
        if (!parts.empty()) {
            out += fmt::format("{}\n    {}: {{{}}}", first_fig ? "" : ",", json_string(n),
                               fmt::join(parts, ", "));
            first_fig = false;
        }
    }
    out += first_fig ? "},\n" : "\n  },\n";

    out += "  \"targets\": {";
    for (std::size_t i = 0; i < o.targets.size(); ++i) {
        const Target& t = o.targets[i];
        const Figure* f = sut.log.find(t.figure);
        out += fmt::format(
            "{}\n    {}: {{\"system\": {}, \"max_median\": {}, \"median\": {}, \"verdict\": {}}}",
            i ? "," : "", json_string(t.figure), json_string(sut.name), t.max,
            f ? fmt::format("{}", f->median) : "null", json_string(verdict_name(judge(sut, t))));
    }
    out += o.targets.empty() ? "},\n" : "\n  },\n";

    out += "  \"notes\": {";
    for (std::size_t i = 0; i < o.notes.size(); ++i) {
        out += fmt::format("{}\n    {}: {}", i ? "," : "", json_string(o.notes[i].figure),
                           json_string(o.notes[i].text));
    }
    out += o.notes.empty() ? "}\n" : "\n  }\n";
    out += "}\n";
    return out;
}

// ---- SVG: grouped bars (median) with a p99 whisker and the target as a dashed line ----------

std::string xml_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

// A round axis step giving about five gridlines up to `max`.
double nice_step(double max) {
    double raw = max / 5.0;
    double mag = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
        if (m * mag >= raw) {
            return m * mag;
        }
    }
    return 10.0 * mag;
}

constexpr std::string_view kColors[] = {"#4e79a7", "#f28e2b", "#59a14f",
                                        "#e15759", "#76b7b2", "#b07aa1"};

// ---- SVG: one histogram panel per figure with a `BENCH hist` line and system, below the bars --

std::string bin_label(const Bin& b) {
    return b.lo == b.hi ? fmt::format("{}", b.lo) : fmt::format("{}-{}", b.lo, b.hi);
}

struct HistLayout {
    std::vector<std::string> rows;  // figures with a histogram on some system; columns: systems
    double top = 0.0;               // of the section (its title)
    double panel_w = 280.0;
    double panel_h = 0.0;
    double label_h = 0.0;  // below a panel's x axis, for the bin labels
    double width = 0.0;
    double height = 0.0;
};

constexpr double kHistMargin = 16.0;   // left of the first panel
constexpr double kHistGap = 12.0;      // between panels
constexpr double kHistTitleH = 28.0;   // the section title
constexpr double kHistPlotTop = 34.0;  // from a panel's top: its title, the top bar's count
constexpr double kHistPlotH = 110.0;
constexpr double kLabelFont = 8.0;
constexpr double kCharW = 0.6 * kLabelFont;  // sans-serif digits, about

std::string hist_title(const Options& o) {
    return fmt::format("Per-iteration samples, {}: {} (y: iterations per bin)", o.mode, o.unit);
}

HistLayout hist_layout(const Options& o, const std::vector<std::string>& names, double top) {
    HistLayout l;
    l.top = top;
    std::size_t longest = 1;
    for (const std::string& n : names) {
        bool any = false;
        for (const System& s : o.systems) {
            if (const Figure* f = s.log.find(n); f != nullptr && !f->hist.empty()) {
                any = true;
                for (const Bin& b : f->hist) {
                    longest = std::max(longest, bin_label(b).size());
                }
            }
        }
        if (any) {
            l.rows.push_back(n);
        }
    }
    // Labels may be turned upright (when they do not fit side by side): room for the longest.
    l.label_h = 8.0 + kCharW * static_cast<double>(longest);
    l.panel_h = kHistPlotTop + kHistPlotH + l.label_h + 16.0;
    const double nsys = static_cast<double>(o.systems.size());
    l.width = std::max(kHistMargin + nsys * (l.panel_w + kHistGap) + 4.0,
                       kHistMargin + 8.5 * static_cast<double>(hist_title(o).size()));
    l.height = top + kHistTitleH + static_cast<double>(l.rows.size()) * (l.panel_h + kHistGap);
    return l;
}

// One panel at (x, y): bars for the bins, each labelled with its range, the count on y.
std::string render_hist_panel(const Options& o, const HistLayout& l, double x, double y,
                              std::size_t sys, const std::string& name) {
    const System& s = o.systems[sys];
    const std::string_view color = kColors[sys % std::size(kColors)];
    const double px0 = x + 46.0;
    const double px1 = x + l.panel_w - 10.0;
    const double py0 = y + kHistPlotTop;
    const double py1 = py0 + kHistPlotH;
    std::string out = fmt::format(
        "<g><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
        "stroke=\"#ccc\"/>\n<text x=\"{:.1f}\" y=\"{:.1f}\" font-weight=\"bold\">{} on {}</text>\n",
        x, y, l.panel_w, l.panel_h, x + 8.0, y + 16.0, xml_escape(name), xml_escape(s.name));
    const Figure* f = s.log.find(name);
    if (f == nullptr || f->hist.empty()) {
        const char* what = f != nullptr                       ? "no histogram"
                           : s.log.find_skip(name) != nullptr ? "skip"
                                                              : "n/a";
        out += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#888\">{}</text></g>\n",
            x + l.panel_w / 2.0, (py0 + py1) / 2.0, what);
        return out;
    }
    std::uint64_t most = 1;
    for (const Bin& b : f->hist) {
        most = std::max(most, b.count);
    }
    const double cmax = static_cast<double>(most);
    const double step = std::max(1.0, std::ceil(nice_step(cmax)));
    const double ymax = std::ceil(cmax / step) * step;
    auto yc = [&](double c) { return py1 - kHistPlotH * c / ymax; };
    for (double v = 0.0; v <= ymax + step / 2.0; v += step) {
        out += fmt::format(
            "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#eee\"/>"
            "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" font-size=\"9\">{:.0f}</text>\n",
            px0, px1, yc(v), yc(v), px0 - 4.0, yc(v) + 3.0, v);
    }
    out += fmt::format(
        "<text x=\"{0:.1f}\" y=\"{1:.1f}\" transform=\"rotate(-90 {0:.1f} {1:.1f})\" "
        "text-anchor=\"middle\" font-size=\"9\" fill=\"#555\">count</text>\n",
        x + 10.0, (py0 + py1) / 2.0);

    // Equal slots, at most 40 px wide and centred: a single bin (all samples equal, as under
    // -icount) is one bar in the middle, not a block filling the panel.
    const double n = static_cast<double>(f->hist.size());
    const double slot = std::min((px1 - px0) / n, 40.0);
    const double gx = px0 + ((px1 - px0) - slot * n) / 2.0;
    bool upright = false;  // the labels side by side do not fit: turn them all
    for (const Bin& b : f->hist) {
        upright = upright || kCharW * static_cast<double>(bin_label(b).size()) > slot - 2.0;
    }
    for (std::size_t k = 0; k < f->hist.size(); ++k) {
        const Bin& b = f->hist[k];
        const double bx = gx + slot * static_cast<double>(k);
        const double cx = bx + slot / 2.0;
        const double c = static_cast<double>(b.count);
        const std::string label = bin_label(b);
        out += fmt::format(
            "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\">"
            "<title>{} {}: {} {}: {} of {}</title></rect>\n",
            bx + 1.0, yc(c), std::max(slot - 2.0, 1.0), py1 - yc(c), color, xml_escape(s.name),
            xml_escape(name), label, xml_escape(o.unit), b.count, f->iters);
        if (kCharW * static_cast<double>(fmt::formatted_size("{}", b.count)) <= slot) {
            out += fmt::format(
                "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"{:g}\">{}"
                "</text>\n",
                cx, yc(c) - 3.0, kLabelFont, b.count);
        }
        if (upright) {
            out += fmt::format(
                "<text x=\"{0:.1f}\" y=\"{1:.1f}\" transform=\"rotate(-90 {0:.1f} {1:.1f})\" "
                "text-anchor=\"end\" font-size=\"{2:g}\">{3}</text>\n",
                cx + kLabelFont / 3.0, py1 + 5.0, kLabelFont, label);
        } else {
            out += fmt::format(
                "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"{:g}\">{}"
                "</text>\n",
                cx, py1 + 4.0 + kLabelFont, kLabelFont, label);
        }
    }
    out += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>"
        "<line x1=\"{0:.1f}\" x2=\"{3:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>\n"
        "<text x=\"{4:.1f}\" y=\"{5:.1f}\" text-anchor=\"middle\" font-size=\"9\" "
        "fill=\"#555\">{6}</text></g>\n",
        px0, py0, py1, px1, (px0 + px1) / 2.0, y + l.panel_h - 5.0, xml_escape(o.unit));
    return out;
}

std::string render_hists(const Options& o, const HistLayout& l) {
    if (l.rows.empty()) {
        return {};
    }
    std::string out = fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        kHistMargin, l.top + 18.0, xml_escape(hist_title(o)));
    for (std::size_t r = 0; r < l.rows.size(); ++r) {
        const double y = l.top + kHistTitleH + static_cast<double>(r) * (l.panel_h + kHistGap);
        for (std::size_t c = 0; c < o.systems.size(); ++c) {
            const double x = kHistMargin + static_cast<double>(c) * (l.panel_w + kHistGap);
            out += render_hist_panel(o, l, x, y, c, l.rows[r]);
        }
    }
    return out;
}

std::string render_svg(const Options& o, const std::vector<std::string>& names) {
    const double bar_w = 26.0;
    const double gap = 34.0;
    const double left = 64.0;
    const double top = 56.0;
    const double plot_h = 260.0;
    const double nsys = static_cast<double>(o.systems.size());
    double group_w = bar_w * nsys + gap;
    for (const std::string& n : names) {
        group_w = std::max(group_w, 6.5 * static_cast<double>(n.size()) + 12.0);
    }
    const double chart_w =
        left + group_w * static_cast<double>(std::max<std::size_t>(names.size(), 1)) + 24.0;
    const double chart_h = top + plot_h + 60.0;
    const HistLayout hl = hist_layout(o, names, chart_h);
    const double width = std::max(chart_w, hl.width);
    const double height = hl.rows.empty() ? chart_h : hl.height;

    double vmax = 1.0;
    for (const System& s : o.systems) {
        for (const Figure& f : s.log.figures) {
            vmax = std::max(vmax, static_cast<double>(f.p99));
        }
    }
    for (const Target& t : o.targets) {
        vmax = std::max(vmax, static_cast<double>(t.max));
    }
    const double step = nice_step(vmax * 1.08);
    const double ymax = std::ceil(vmax * 1.08 / step) * step;
    auto y = [&](double v) { return top + plot_h - plot_h * v / ymax; };

    std::string out = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
        "viewBox=\"0 0 {:.0f} {:.0f}\" font-family=\"sans-serif\" font-size=\"11\">\n"
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        width, height, width, height);
    out += fmt::format(
        "<text x=\"{:.0f}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">Latency, {}: median "
        "{} (whisker: p99, dashed: target)</text>\n",
        left, xml_escape(o.mode), xml_escape(o.unit));
    for (std::size_t i = 0; i < o.systems.size(); ++i) {
        double lx = left + 120.0 * static_cast<double>(i);
        out += fmt::format(
            "<rect x=\"{:.1f}\" y=\"30\" width=\"12\" height=\"12\" fill=\"{}\"/>"
            "<text x=\"{:.1f}\" y=\"40\">{}</text>\n",
            lx, kColors[i % std::size(kColors)], lx + 16.0, xml_escape(o.systems[i].name));
    }
    for (double v = 0.0; v <= ymax + step / 2.0; v += step) {
        out += fmt::format(
            "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
            "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{:g}</text>\n",
            left, chart_w - 16.0, y(v), y(v), left - 6.0, y(v) + 4.0, v);
    }
    for (std::size_t g = 0; g < names.size(); ++g) {
        const std::string& n = names[g];
        double gx = left + group_w * static_cast<double>(g) + (group_w - bar_w * nsys) / 2.0;
        for (std::size_t i = 0; i < o.systems.size(); ++i) {
            double bx = gx + bar_w * static_cast<double>(i);
            const Figure* f = o.systems[i].log.find(n);
            if (f == nullptr) {
                const char* what = o.systems[i].log.find_skip(n) != nullptr ? "skip" : "n/a";
                out += fmt::format(
                    "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"9\" "
                    "fill=\"#888\">{}</text>\n",
                    bx + bar_w / 2.0, y(0.0) - 4.0, what);
                continue;
            }
            double med = static_cast<double>(f->median);
            double p99 = static_cast<double>(f->p99);
            out += fmt::format(
                "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\">"
                "<title>{} {}: median {} min {} p99 {}</title></rect>\n",
                bx + 2.0, y(med), bar_w - 4.0, y(0.0) - y(med), kColors[i % std::size(kColors)],
                xml_escape(o.systems[i].name), xml_escape(n), f->median, f->min, f->p99);
            if (p99 > med) {
                out += fmt::format(
                    "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" "
                    "stroke=\"#333\"/><line x1=\"{3:.1f}\" x2=\"{4:.1f}\" y1=\"{2:.1f}\" "
                    "y2=\"{2:.1f}\" stroke=\"#333\"/>\n",
                    bx + bar_w / 2.0, y(med), y(p99), bx + bar_w / 2.0 - 4.0,
                    bx + bar_w / 2.0 + 4.0);
            }
            out += fmt::format(
                "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" "
                "font-size=\"9\">{}</text>\n",
                bx + bar_w / 2.0, std::min(y(med), y(p99)) - 4.0, f->median);
        }
        if (const Target* t = find_target(o, n)) {
            double ty = y(static_cast<double>(t->max));
            out += fmt::format(
                "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#d62728\" "
                "stroke-dasharray=\"5,3\" stroke-width=\"1.5\"><title>target {} &lt;= {}</title>"
                "</line>\n",
                gx - 4.0, gx + bar_w * nsys + 4.0, ty, ty, xml_escape(n), t->max);
        }
        out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                           left + group_w * (static_cast<double>(g) + 0.5), y(0.0) + 16.0,
                           xml_escape(n));
    }
    out += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>"
        "<line x1=\"{0:.1f}\" x2=\"{3:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>\n",
        left, top, y(0.0), chart_w - 16.0);
    out += render_hists(o, hl);
    out += "</svg>\n";
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse_args(argc, argv);
    for (System& s : o.systems) {
        std::optional<std::string> text = read_file(s.path);
        if (!text) {
            fmt::print(stderr, "bench_report: cannot read {} (system {})\n", s.path, s.name);
            return 1;
        }
        s.log = corvisor::bench::parse_log(*text);
        for (const auto& w : s.log.warnings) {
            fmt::print(stderr, "bench_report: warning: {}:{}: {}\n", s.path, w.line, w.message);
        }
        if (!s.log.done) {
            fmt::print(stderr,
                       "bench_report: warning: {}: no 'BENCH done': the run is incomplete\n",
                       s.path);
        }
        if (s.log.figures.empty() && s.log.skips.empty()) {
            fmt::print(stderr, "bench_report: warning: {}: no BENCH figures\n", s.path);
        }
    }
    std::vector<std::string> names = figure_names(o);

    std::string text = render_text(o, names);
    fmt::print("{}", text);
    bool ok = true;
    if (!o.txt_path.empty()) {
        ok = write_file(o.txt_path, text) && ok;
    }
    if (!o.json_path.empty()) {
        ok = write_file(o.json_path, render_json(o, names)) && ok;
    }
    if (!o.svg_path.empty()) {
        ok = write_file(o.svg_path, render_svg(o, names)) && ok;
    }
    if (!ok) {
        return 1;
    }
    if (o.fail_on_over) {
        for (const Target& t : o.targets) {
            if (judge(o.systems.front(), t) != Verdict::kPass) {
                return 3;
            }
        }
    }
    return 0;
}
