#include "base/format.hpp"

namespace corvisor {

namespace {

void put_unsigned(FormatBuffer& out, std::uint64_t v, unsigned base) {
    char digits[20];
    int n = 0;
    do {
        unsigned d = static_cast<unsigned>(v % base);
        digits[n++] = static_cast<char>(d < 10 ? '0' + d : 'a' + (d - 10));
        v /= base;
    } while (v != 0);
    while (n > 0) {
        out.put(digits[--n]);
    }
}

void put_arg(FormatBuffer& out, const FormatArg& a) {
    switch (a.kind()) {
        case FormatArg::Kind::kSigned: {
            std::int64_t s = a.as_signed();
            if (s < 0) {
                out.put('-');
                // Negate in unsigned arithmetic: INT64_MIN has no positive counterpart.
                put_unsigned(out, 0 - static_cast<std::uint64_t>(s), 10);
            } else {
                put_unsigned(out, static_cast<std::uint64_t>(s), 10);
            }
            break;
        }
        case FormatArg::Kind::kUnsigned:
            put_unsigned(out, a.as_unsigned(), 10);
            break;
        case FormatArg::Kind::kHex:
            out.put("0x");
            put_unsigned(out, a.as_unsigned(), 16);
            break;
        case FormatArg::Kind::kString:
            out.put(a.as_string());
            break;
        case FormatArg::Kind::kBool:
            out.put(a.as_unsigned() != 0 ? "true" : "false");
            break;
    }
}

}  // namespace

void vformat(FormatBuffer& out, std::string_view fmt, const FormatArg* args, std::size_t count) {
    std::size_t next = 0;
    for (std::size_t i = 0; i < fmt.size(); ++i) {
        char c = fmt[i];
        if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out.put('{');
            ++i;
        } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
            out.put('}');
            ++i;
        } else if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
            if (next < count) {
                put_arg(out, args[next++]);
            } else {
                out.put("{?}");
            }
            ++i;
        } else {
            out.put(c);
        }
    }
}

}  // namespace corvisor
