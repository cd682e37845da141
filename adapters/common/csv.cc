#include "adapters/common/csv.h"

#include <csv.h>

#include <deque>
#include <system_error>

#include "adapters/common/text.h"

namespace hub::adapters {

const std::string& csv_row::at(std::size_t i) const {
  static const std::string empty;
  return i < fields.size() ? fields[i] : empty;
}

bool csv_row::blank() const {
  for (const auto& f : fields)
    if (!trim(f).empty()) return false;
  return true;
}

// libcsv calls back per field and per row end; the callbacks fill `done`. Rows are
// numbered by the physical line their first byte is on: the reader feeds one line at a
// time, so the line being fed when a row starts is known.
struct csv_reader::parser {
  csv_parser p{};
  csv_row current;
  std::deque<csv_row> done;
  std::size_t feeding_line = 0;
  std::size_t row_start = 0;  // line the row being parsed began on; 0 between rows

  static void on_field(void* data, std::size_t len, void* self) {
    auto* me = static_cast<parser*>(self);
    me->current.fields.emplace_back(data ? static_cast<const char*>(data) : "", data ? len : 0);
  }
  static void on_row(int, void* self) {
    auto* me = static_cast<parser*>(self);
    me->current.line = me->row_start ? me->row_start : me->feeding_line;
    me->current.end_line = me->feeding_line;
    me->done.push_back(std::move(me->current));
    me->current = csv_row{};
    me->row_start = 0;
  }
};

result<std::unique_ptr<csv_reader>> csv_reader::open(const std::filesystem::path& file,
                                                     csv_options opts) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    return status::not_found(file.string() + ": no such file; check the path");
  if (std::filesystem::is_directory(file, ec))
    return status::invalid_argument(file.string() + ": is a folder, not a file; use watch for folders");
  std::unique_ptr<csv_reader> r(new csv_reader());
  r->file_ = file;
  r->opts_ = opts;
  r->file_size_ = std::filesystem::file_size(file, ec);
  r->in_.open(file, std::ios::binary);
  if (!r->in_) return status::io_error(file.string() + ": cannot be opened for reading; check its permissions");
  r->parser_ = std::make_unique<parser>();
  if (csv_init(&r->parser_->p, 0) != 0) return status::io_error("csv parser: out of memory");
  csv_set_delim(&r->parser_->p, static_cast<unsigned char>(opts.delimiter));
  return r;
}

csv_reader::~csv_reader() {
  if (parser_) csv_free(&parser_->p);
}

bool csv_reader::feed_line() {
  std::string line;
  if (!std::getline(in_, line)) {
    if (in_.bad()) {
      error_ = status::io_error(file_.string() + ": read failed after line " + std::to_string(line_));
      return false;
    }
    eof_ = true;
    parser_->feeding_line = line_;
    csv_fini(&parser_->p, parser::on_field, parser::on_row, parser_.get());
    return false;
  }
  ++line_;
  bytes_read_ += line.size() + 1;
  if (line_ == 1 && line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
  if (!is_utf8(line)) {
    if (opts_.encoding == encoding_policy::refuse) {
      error_ = status::invalid_argument(
          file_.string() + ":" + std::to_string(line_) +
          ": not UTF-8 text (it looks like ISO-8859-1/Windows-1252); save the file as UTF-8, "
          "or import it with --encoding latin1");
      return false;
    }
    line = latin1_to_utf8(line);
    if (!converted_) first_converted_line_ = line_;
    converted_ = true;
  }
  // A row starts on the first non-blank line fed after the previous row ended (libcsv
  // skips blank lines; a quoted field may run over several lines).
  if (parser_->row_start == 0 && !trim(line).empty()) parser_->row_start = line_;
  line.push_back('\n');
  parser_->feeding_line = line_;
  if (csv_parse(&parser_->p, line.data(), line.size(), parser::on_field, parser::on_row,
                parser_.get()) != line.size()) {
    error_ = status::invalid_argument(file_.string() + ":" + std::to_string(line_) + ": " +
                                      csv_strerror(csv_error(&parser_->p)));
    return false;
  }
  return true;
}

std::optional<csv_row> csv_reader::next() {
  while (parser_->done.empty()) {
    if (!error_.is_ok() || eof_) return std::nullopt;
    if (!feed_line() && parser_->done.empty()) return std::nullopt;
  }
  csv_row r = std::move(parser_->done.front());
  parser_->done.pop_front();
  return r;
}

}  // namespace hub::adapters
