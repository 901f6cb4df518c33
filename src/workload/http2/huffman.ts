/**
 * The HPACK Huffman code (RFC 7541 Appendix B), decoding only: we send literals as they are.
 * The code is canonical (codes of one length are consecutive, in symbol order, and shorter
 * codes come first), so the bit lengths of the 257 symbols define it; they are kept here as
 * one character each, '0' + length.
 */
const LENGTHS =
  '=GLLLLLLLHNLLNLLLLLLLLNLLLLLLLLL6::<=68;::8;8666555666666678?6<:=67777777777777777777777878=C=>6?56565666577666567655677777?;>=LDFDDFFFGFGGGGGHGHHFGHGGGGEFGFGGHFEDFFGGEGFFHEFGGEEFEGFGGDFFFGFFGJJDCFGFIJJJKKJHICEJKKJKHEEJJLKKKDHDEFEEGFFIIHHJGJKJJKKKKKLKKKKKJN';
const EOS = 256;

/**
 * For each length L: the first code of that length, and the symbols of that length in code
 * order. Decoding reads bits until the code read so far falls in the range of its length.
 */
interface Canonical {
  firstCode: number[];
  symbols: number[][];
}
let table: Canonical | undefined;

function canonical(): Canonical {
  if (table) return table;
  const symbols: number[][] = Array.from({ length: 31 }, () => []);
  for (let s = 0; s <= EOS; s++) symbols[LENGTHS.charCodeAt(s) - 48]!.push(s);
  const firstCode: number[] = new Array<number>(31).fill(0);
  let code = 0;
  for (let len = 1; len <= 30; len++) {
    firstCode[len] = code;
    code = (code + symbols[len]!.length) * 2;
  }
  table = { firstCode, symbols };
  return table;
}

/** Decodes a Huffman-coded string; the padding must be the EOS prefix, shorter than a byte. */
export function huffmanDecode(input: Buffer): Buffer {
  const { firstCode, symbols } = canonical();
  // Every symbol is at least 5 bits: the output is at most 8/5 of the input.
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / 5));
  let n = 0;
  let code = 0;
  let len = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const index = code - firstCode[len]!;
      if (index >= 0 && index < symbols[len]!.length) {
        const sym = symbols[len]![index]!;
        if (sym === EOS) throw new Error('Huffman-coded string holds the EOS symbol');
        out[n++] = sym;
        code = 0;
        len = 0;
      } else if (len >= 30) {
        throw new Error('invalid Huffman code');
      }
    }
  }
  // The leftover bits are padding: at most 7, all ones (the most significant bits of EOS).
  if (len > 7) throw new Error('Huffman padding longer than 7 bits');
  if (code !== 2 ** len - 1) throw new Error('Huffman padding is not the EOS prefix');
  return out.subarray(0, n);
}
