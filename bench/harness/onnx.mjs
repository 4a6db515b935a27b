// Minimal ONNX model writer: just enough protobuf to build single-node float32 graphs
// (MatMul, Add, Relu, ReduceSum, Softmax) at run time, so the bench needs no model files and no
// protobuf dependency. Field numbers are from onnx/onnx.proto3.

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;
const encoder = new TextEncoder();

function varint(value) {
  // int64 fields only ever carry small non-negative values here (ir_version, opset, dims, attrs);
  // negative ints (axis = -1) are encoded as 10-byte two's complement, as protobuf does.
  let v = BigInt.asUintN(64, BigInt(value));
  const out = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

const tag = (field, wire) => varint((field << 3) | wire);

/** A message is a list of byte chunks; fields append to it. */
class Msg {
  constructor() { this.parts = []; }
  int(field, value) { this.parts.push(tag(field, WIRE_VARINT), varint(value)); return this; }
  bytes(field, u8) { this.parts.push(tag(field, WIRE_BYTES), varint(u8.length), u8); return this; }
  str(field, s) { return this.bytes(field, encoder.encode(s)); }
  msg(field, m) { return this.bytes(field, m.finish()); }
  finish() {
    const len = this.parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(len);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_INT = 2; // AttributeProto.AttributeType.INT

function valueInfo(name, shape) {
  const dims = new Msg();
  for (const d of shape) dims.msg(1, new Msg().int(1, d)); // TensorShapeProto.dim { dim_value }
  const tensorType = new Msg().int(1, FLOAT).msg(2, dims); // TypeProto.Tensor { elem_type, shape }
  const type = new Msg().msg(1, tensorType); // TypeProto { tensor_type }
  return new Msg().str(1, name).msg(2, type); // ValueInfoProto { name, type }
}

/**
 * One-node model: `opType(inputs...) -> Y`.
 * @param {string} opType e.g. 'MatMul'
 * @param {{name: string, shape: number[]}[]} inputs
 * @param {number[]} outShape
 * @param {Record<string, number>} [attrs] integer attributes, e.g. { axis: -1 }
 * @param {number} [opset]
 * @returns {Uint8Array} serialized ModelProto
 */
export function singleOpModel(opType, inputs, outShape, attrs = {}, opset = 13) {
  const node = new Msg();
  for (const i of inputs) node.str(1, i.name);
  node.str(2, 'Y').str(3, opType.toLowerCase()).str(4, opType);
  for (const [name, value] of Object.entries(attrs)) {
    node.msg(5, new Msg().str(1, name).int(3, value).int(20, ATTR_INT)); // AttributeProto { name, i, type }
  }
  const graph = new Msg().msg(1, node).str(2, `kiln_bench_${opType}`);
  for (const i of inputs) graph.msg(11, valueInfo(i.name, i.shape));
  graph.msg(12, valueInfo('Y', outShape));
  return new Msg()
    .int(1, 8) // ir_version
    .str(2, 'kiln-bench')
    .msg(7, graph)
    .msg(8, new Msg().str(1, '').int(2, opset)) // opset_import { domain: '', version }
    .finish();
}
