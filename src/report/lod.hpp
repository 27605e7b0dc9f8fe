// Level-of-detail pyramids for the report: the C++ side decimates, the page
// only picks a level. Level j splits the run's time span into 256 * 4^j
// buckets and keeps, per non-empty bucket, the minimum and maximum (what one
// pixel column can show); the page uses the coarsest level whose buckets
// are no wider than a pixel, and the raw points once few enough are in
// view. Levels stop while they are still well below the raw data (1/8).
//
// Everything is written as JSON whose numeric columns are packed: each
// value times a column scale (1e9 for seconds: nanoseconds) rounded to an
// integer, delta-coded against the previous value, zigzagged and written as
// a LEB128 varint (0 is a gap, NaN), then base64. Times and sequence numbers
// move in small steps, so a point costs a few bytes instead of 8 per
// column, which is what keeps a 1 GiB run's page small enough to open fast.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "report/capture.hpp"
#include "report/trace_input.hpp"

namespace sp::report {

class JsonOut {
 public:
  std::string& str() { return s_; }
  void raw(std::string_view v) { s_ += v; }
  void string(std::string_view v);  // quoted and escaped (also '<', for <script>)
  void number(double v);            // NaN and infinities as null
  // {"s":scale,"n":count,"d":"<base64 varints>"} (see above).
  void packed(const std::vector<double>& v, double scale);
  void u8(const std::vector<std::uint8_t>& v);  // base64 bytes as a string
  void pairs(const std::vector<std::pair<std::string, std::string>>& kv);  // [[k,v],...]

 private:
  std::string s_;
};

struct TimeBase {
  double origin_ns = 0;  // time 0 of the page's axis
  double span_s = 1;     // the run's length: level widths are span / (256 * 4^j)
};

// Time-sequence items (I-beams, ACK points, SACK blocks, marks):
// {"n":..,"raw":{"t","lo","hi","k"},"levels":[{"w","t","lo","hi","k"}...]}
void write_items(JsonOut& j, const std::vector<SeqItem>& items, const TimeBase& tb);

// Samples of several values at shared times (tcp_probe's columns):
// {"cols":[names],"raw":{"t","v":[..]},"levels":[{"w","t","lo":[..],"hi":[..]}]}
// scales: per column, what one unit of the packed integer is (1e3 keeps
// three decimals).
void write_table(JsonOut& j, const std::vector<double>& t_ns,
                 const std::vector<std::vector<double>>& cols,
                 const std::vector<std::string>& names, const std::vector<double>& scales,
                 const TimeBase& tb);

// A state over time: {"names":[..],"raw":{"t0","t1","k"},"levels":[{"w","t0","t1","k"}]},
// a level keeping per bucket the state that lasted longest in it.
void write_band(JsonOut& j, const std::vector<Interval>& runs,
                const std::vector<std::string>& names, const TimeBase& tb);

}  // namespace sp::report
