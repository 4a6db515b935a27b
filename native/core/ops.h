// The op registry: every op id that exec() accepts, with the rule that validates its operands
// and the backend method it calls. Op ids are positions in this table; JS asks for the
// name -> id map once at load time, so the table is the single source of truth.
#pragma once
#include <string>
#include <vector>

#include "backend.h"

namespace kiln {

struct OpCall {
  std::vector<View> outs;
  std::vector<View> ins;
  const double* attrs = nullptr;
  int nAttrs = 0;

  double attr(int i) const;          // throws if missing
  int64_t intAttr(int i) const;      // throws if missing or not an integer
};

struct OpDef {
  std::string name;
  int nOut;
  int nIn;
  // Fresh: outs are allocated by exec, contiguous, with the shape and dtype JS asked for.
  // Existing: outs[0] is an existing tensor written in place through its (strided) view.
  // Either: fill accepts both.
  enum class Out { Fresh, Existing, Either } out;
  int sub;  // the family's enum value (UnaryOp, BinaryOp, ReduceOp, RandomOp), else 0
  // Throws ShapeError/DTypeError/IndexError if the operands do not fit the op.
  void (*check)(const OpDef&, const OpCall&, const Backend&);
  void (*run)(const OpDef&, Backend&, const OpCall&);
};

const std::vector<OpDef>& opTable();

}  // namespace kiln
