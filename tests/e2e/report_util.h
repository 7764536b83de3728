// Helpers shared by the `edgeq report` tests: counting substrings and cutting one inline SVG out of a page.
#pragma once

#include <string>

namespace edgeq {

inline size_t count_of(const std::string& s, const std::string& needle) {
    size_t n = 0;
    for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
    return n;
}

// The text of the element <svg id="id" ...>...</svg> (without the closing tag), or "" when absent.
inline std::string svg_by_id(const std::string& html, const std::string& id) {
    const size_t a = html.find("<svg id=\"" + id + "\"");
    if (a == std::string::npos) return "";
    return html.substr(a, html.find("</svg>", a) - a);
}

}  // namespace edgeq
