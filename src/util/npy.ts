// NumPy .npy files (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html), little-endian, C order.

export type NpyData = Float64Array | Float32Array | Uint16Array | Uint32Array | Int32Array;

export interface DecodedNpy {
  descr: string;
  shape: number[];
  data: NpyData;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const HEADER_ALIGNMENT = 64;
/** Magic (6), version (2) and the u16 header length (2) that precede the header text in version 1.0. */
const V1_PREAMBLE_BYTES = 10;

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type NpyArrayConstructor =
  Float64ArrayConstructor | Float32ArrayConstructor | Uint16ArrayConstructor | Uint32ArrayConstructor | Int32ArrayConstructor;

const ARRAY_TYPE_OF_DESCR: Record<string, NpyArrayConstructor> = {
  '<f8': Float64Array,
  '<f4': Float32Array,
  '<f2': Uint16Array,
  '<u2': Uint16Array,
  '<u4': Uint32Array,
  '<i4': Int32Array,
};

function descrOf(data: NpyData, f16: boolean): string {
  if (f16 && !(data instanceof Uint16Array)) throw new Error('npy: f16 data must be a Uint16Array of f16 bit patterns');
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Uint16Array) return f16 ? '<f2' : '<u2';
  if (data instanceof Uint32Array) return '<u4';
  return '<i4';
}

/** Python tuple syntax: `()`, `(n,)`, `(a, b)`. */
function shapeTuple(shape: number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

function assertHostLittleEndian(): void {
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error('npy: only little-endian hosts are supported');
}

export function encodeNpy(data: NpyData, shape: number[], opts: { f16?: boolean } = {}): Buffer {
  assertHostLittleEndian();
  if (!shape.every((size) => Number.isInteger(size) && size >= 0)) {
    throw new Error(`npy: shape (${shape.join(', ')}) must contain non-negative integers`);
  }
  const elementCount = shape.reduce((product, size) => product * size, 1);
  if (elementCount !== data.length) {
    throw new Error(`npy: shape (${shape.join(', ')}) holds ${elementCount} elements but the data has ${data.length}`);
  }

  const dict = `{'descr': '${descrOf(data, opts.f16 ?? false)}', 'fortran_order': False, 'shape': ${shapeTuple(shape)}, }`;
  const unpadded = V1_PREAMBLE_BYTES + dict.length + 1; // + the closing newline
  const padding = (HEADER_ALIGNMENT - (unpadded % HEADER_ALIGNMENT)) % HEADER_ALIGNMENT;
  const header = `${dict}${' '.repeat(padding)}\n`;
  if (header.length > 0xffff) throw new Error('npy: header too long for format version 1.0');

  const preamble = Buffer.alloc(V1_PREAMBLE_BYTES);
  MAGIC.copy(preamble, 0);
  preamble[6] = 1; // major version
  preamble[7] = 0; // minor version
  preamble.writeUInt16LE(header.length, 8);
  const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([preamble, Buffer.from(header, 'latin1'), payload]);
}

function headerField(header: string, key: string, valuePattern: string): string {
  const match = new RegExp(`'${key}'\\s*:\\s*${valuePattern}`).exec(header);
  if (match?.[1] === undefined) throw new Error(`npy: header has no readable '${key}': ${header.trim()}`);
  return match[1];
}

export function decodeNpy(buf: Buffer): DecodedNpy {
  assertHostLittleEndian();
  if (buf.length < V1_PREAMBLE_BYTES || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error('npy: missing \\x93NUMPY magic');
  }
  const major = buf[6];
  // Version 1.x has a u16 header length; 2.x and 3.x widen it to u32.
  const lengthBytes = major === 1 ? 2 : major === 2 || major === 3 ? 4 : undefined;
  if (lengthBytes === undefined) throw new Error(`npy: unsupported format version ${major}.${buf[7]}`);
  const headerStart = 8 + lengthBytes;
  const headerLength = lengthBytes === 2 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', headerStart, headerStart + headerLength);

  const descr = headerField(header, 'descr', "'([^']*)'");
  const fortranOrder = headerField(header, 'fortran_order', '(True|False)');
  const shapeText = headerField(header, 'shape', '\\(([^)]*)\\)');
  if (fortranOrder === 'True') throw new Error('npy: fortran_order arrays are not supported');
  const ArrayType = ARRAY_TYPE_OF_DESCR[descr];
  if (ArrayType === undefined) {
    throw new Error(`npy: unsupported descr '${descr}'; supported: ${Object.keys(ARRAY_TYPE_OF_DESCR).join(', ')}`);
  }
  const shape = shapeText
    .split(',')
    .map((size) => size.trim())
    .filter((size) => size !== '')
    .map(Number);

  const elementCount = shape.reduce((product, size) => product * size, 1);
  const dataStart = headerStart + headerLength;
  const byteLength = elementCount * ArrayType.BYTES_PER_ELEMENT;
  if (buf.length - dataStart !== byteLength) {
    throw new Error(`npy: shape (${shape.join(', ')}) needs ${byteLength} data bytes, found ${buf.length - dataStart}`);
  }
  // Copy into a fresh array: the data offset in buf need not be aligned for the element type.
  const data = new ArrayType(elementCount);
  new Uint8Array(data.buffer).set(buf.subarray(dataStart));
  return { descr, shape, data };
}
