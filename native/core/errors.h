// Errors raised by the native side. The napi layer turns each into a JS exception whose `code`
// names the TypeScript error class (ShapeError, DTypeError, ...); nothing here ever aborts.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace kiln {

enum class ErrorKind { Kiln, Shape, DType, Device, Index, Memory };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

inline const char* errorCode(ErrorKind k) {
  switch (k) {
    case ErrorKind::Shape: return "ShapeError";
    case ErrorKind::DType: return "DTypeError";
    case ErrorKind::Device: return "DeviceError";
    case ErrorKind::Index: return "IndexError";
    case ErrorKind::Memory: return "MemoryError";
    default: return "KilnError";
  }
}

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

// fail(ErrorKind::Shape, "matmul: shapes ", a, " and ", b, " ...")
template <typename... Args>
[[noreturn]] void fail(ErrorKind kind, const Args&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  throw Error(kind, os.str());
}

}  // namespace kiln
