/**
 * HPACK (src/workload/http2/hpack.ts, huffman.ts): the examples of RFC 7541 Appendix C, each
 * series decoded by one decoder so that the dynamic table carries over between header lists as
 * on a connection, then named malformed blocks, then the limits a hostile peer meets.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Http2Error } from '../../../src/workload/http2/frame.js';
import { decodeInt, Decoder, encode, encodeInt, type HeaderField } from '../../../src/workload/http2/hpack.js';
import { huffmanDecode } from '../../../src/workload/http2/huffman.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

interface Step {
  block: string;
  headers: HeaderField[];
  /** The dynamic table after the block, newest entry first. */
  table: HeaderField[];
  tableSize: number;
}

const request1: HeaderField[] = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const request2: HeaderField[] = [...request1, ['cache-control', 'no-cache']];
const request3: HeaderField[] = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];
const requestTables: HeaderField[][] = [
  [[':authority', 'www.example.com']],
  [
    ['cache-control', 'no-cache'],
    [':authority', 'www.example.com'],
  ],
  [
    ['custom-key', 'custom-value'],
    ['cache-control', 'no-cache'],
    [':authority', 'www.example.com'],
  ],
];
const requests = (blocks: string[]): Step[] => blocks.map((block, i) => ({ block, headers: [request1, request2, request3][i]!, table: requestTables[i]!, tableSize: [57, 110, 164][i]! }));

const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const date2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const location = 'https://www.example.com';
const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const responses = (blocks: string[]): Step[] => [
  {
    block: blocks[0]!,
    headers: [
      [':status', '302'],
      ['cache-control', 'private'],
      ['date', date1],
      ['location', location],
    ],
    table: [
      ['location', location],
      ['date', date1],
      ['cache-control', 'private'],
      [':status', '302'],
    ],
    tableSize: 222,
  },
  {
    block: blocks[1]!,
    headers: [
      [':status', '307'],
      ['cache-control', 'private'],
      ['date', date1],
      ['location', location],
    ],
    table: [
      [':status', '307'],
      ['location', location],
      ['date', date1],
      ['cache-control', 'private'],
    ],
    tableSize: 222,
  },
  {
    block: blocks[2]!,
    headers: [
      [':status', '200'],
      ['cache-control', 'private'],
      ['date', date2],
      ['location', location],
      ['content-encoding', 'gzip'],
      ['set-cookie', cookie],
    ],
    table: [
      ['set-cookie', cookie],
      ['content-encoding', 'gzip'],
      ['date', date2],
    ],
    tableSize: 215,
  },
];

const series: { name: string; maxTableSize: number; steps: Step[] }[] = [
  {
    name: 'C.2.1 literal header field with indexing',
    maxTableSize: 4096,
    steps: [{ block: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572', headers: [['custom-key', 'custom-header']], table: [['custom-key', 'custom-header']], tableSize: 55 }],
  },
  { name: 'C.2.2 literal header field without indexing', maxTableSize: 4096, steps: [{ block: '040c 2f73 616d 706c 652f 7061 7468', headers: [[':path', '/sample/path']], table: [], tableSize: 0 }] },
  {
    name: 'C.2.3 literal header field never indexed',
    maxTableSize: 4096,
    steps: [{ block: '1008 7061 7373 776f 7264 0673 6563 7265 74', headers: [['password', 'secret']], table: [], tableSize: 0 }],
  },
  { name: 'C.2.4 indexed header field', maxTableSize: 4096, steps: [{ block: '82', headers: [[':method', 'GET']], table: [], tableSize: 0 }] },
  {
    name: 'C.3 requests without Huffman coding',
    maxTableSize: 4096,
    steps: requests(['8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', '8286 84be 5808 6e6f 2d63 6163 6865', '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65']),
  },
  {
    name: 'C.4 requests with Huffman coding',
    maxTableSize: 4096,
    steps: requests(['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf']),
  },
  {
    name: 'C.5 responses without Huffman coding (table of 256 bytes: evictions)',
    maxTableSize: 256,
    steps: responses([
      `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
       2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
      '4803 3330 37c1 c0bf',
      `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
       54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
       5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
    ]),
  },
  {
    name: 'C.6 responses with Huffman coding (table of 256 bytes: evictions)',
    maxTableSize: 256,
    steps: responses([
      `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
       2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
      '4883 640e ffc1 c0bf',
      `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
       77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
       9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
    ]),
  },
];

describe('RFC 7541 Appendix C examples', () => {
  for (const s of series) {
    test(s.name, () => {
      const d = new Decoder(s.maxTableSize);
      s.steps.forEach((step, i) => {
        const got = d.decode(hex(step.block));
        assert.deepEqual(got.headers, step.headers, `header list ${i + 1}`);
        assert.deepEqual(d.entries, step.table, `dynamic table after list ${i + 1}`);
        assert.equal(d.tableSize, step.tableSize, `dynamic table size after list ${i + 1}`);
      });
    });
  }

  test('C.1 integers: 10 and 1337 on a 5-bit prefix, 42 on 8 bits', () => {
    for (const [value, prefix, bytes] of [
      [10, 5, [0x0a]],
      [1337, 5, [0x1f, 0x9a, 0x0a]],
      [42, 8, [0x2a]],
    ] as const) {
      assert.deepEqual(encodeInt(value, prefix, 0), bytes);
      assert.deepEqual(decodeInt(Buffer.from(bytes), 0, prefix), { value, next: bytes.length });
    }
  });
});

describe('HPACK encoder', () => {
  test('literal without indexing, literal name, no Huffman: any decoder reads it back, its table untouched', () => {
    const fields: HeaderField[] = [
      [':path', '/SpiffeWorkloadAPI/FetchX509SVID'],
      ['workload.spiffe.io', 'true'],
      ['long', 'x'.repeat(300)],
      ['empty', ''],
    ];
    const block = encode(fields);
    assert.deepEqual(block.subarray(0, 7), Buffer.from([0x00, 0x05, ...Buffer.from(':path')]));
    const d = new Decoder();
    assert.deepEqual(d.decode(block).headers, fields);
    assert.equal(d.tableSize, 0);
  });
});

const malformed: { name: string; block: string; error: RegExp; maxTableSize?: number }[] = [
  { name: 'index 0', block: '80', error: /index 0/ },
  { name: 'index past the static table with an empty dynamic table', block: 'be', error: /index 62 is past the end of the tables/ },
  { name: 'literal name index past the tables', block: '7f 20 01 61', error: /index 95 is past the end/ },
  { name: 'string length past the end of the block', block: '00 05 61 62', error: /string literal of 5 bytes runs past the end/ },
  { name: 'value string missing', block: '00 01 61', error: /string literal is missing/ },
  { name: 'truncated integer', block: '7f', error: /truncated integer/ },
  { name: 'integer over 2^31', block: '7f ff ff ff ff 7f', error: /integer larger than 2\^31/ },
  // Zero-valued continuation bytes: before, the shift grew until the value was NaN, a table size of NaN never evicted, and the table grew without bound.
  { name: 'table size update padded with 40 zero-valued continuation bytes', block: `3f ${'80 '.repeat(40)} 00`, error: /integer encoded in more than 5 continuation bytes/ },
  { name: 'string length padded with zero-valued continuation bytes', block: '00 7f 80 80 80 80 80 80 00', error: /integer encoded in more than 5 continuation bytes/ },
  { name: 'table size update above SETTINGS_HEADER_TABLE_SIZE', block: '3f e2 1f', error: /size update to 4097, more than the limit of 4096/ },
  { name: 'table size update after a header field', block: '82 20', error: /size update after a header field/ },
  { name: 'Huffman string holding EOS', block: '00 01 61 84 ff ff ff ff', error: /EOS symbol/ },
  { name: 'Huffman padding of 8 bits', block: '00 01 61 82 1f ff', error: /padding longer than 7 bits/ },
  { name: 'Huffman padding that is not all ones', block: '00 01 61 81 00', error: /padding is not the EOS prefix/ },
];

describe('malformed header blocks: COMPRESSION_ERROR', () => {
  for (const c of malformed) {
    test(c.name, () => {
      assert.throws(
        () => new Decoder(c.maxTableSize).decode(hex(c.block)),
        (e: unknown) => e instanceof Http2Error && e.code === 'unavailable' && /^HTTP\/2 COMPRESSION_ERROR: header block: /.test(e.message) && c.error.test(e.message),
      );
    });
  }
});

describe('HPACK limits', () => {
  test('a block that decodes past the header list limit keeps only what fits, and still updates the table', () => {
    const d = new Decoder();
    // One 4000-byte entry added to the table, then referenced 1000 times: 4 MB from 4 KB.
    const value = 'v'.repeat(4000);
    const insert = Buffer.concat([Buffer.from([0x40, 0x01, 0x6b, ...encodeInt(4000, 7, 0)]), Buffer.from(value)]);
    const block = Buffer.concat([insert, Buffer.alloc(1000, 0xbe)]);
    const got = d.decode(block, 16 * 1024);
    assert.equal(got.tooLarge, true);
    assert.equal(got.listSize, 1001 * (1 + 4000 + 32));
    assert.equal(got.headers.length, 4);
    assert.deepEqual(d.entries, [['k', value]]);
  });

  test('an entry larger than the table empties it and is not added (RFC 7541 4.4)', () => {
    const d = new Decoder(64);
    d.decode(hex('40 01 61 01 62')); // a: b, 34 bytes
    assert.equal(d.tableSize, 34);
    d.decode(Buffer.concat([hex('40 01 63 28'), Buffer.alloc(40, 0x78)]));
    assert.deepEqual(d.entries, []);
    assert.equal(d.tableSize, 0);
  });

  test('a size update to 0 evicts everything; later insertions fit the new size', () => {
    const d = new Decoder();
    d.decode(hex('40 01 61 01 62'));
    d.decode(hex('20'));
    assert.equal(d.tableSize, 0);
    d.decode(hex('3f 11 40 01 63 01 64')); // size 48, then c: d
    assert.deepEqual(d.entries, [['c', 'd']]);
  });

  test('Huffman: a 5-bit and a 13-bit code, each with its padding; the empty string', () => {
    // "a" (00011, 5 bits) then padding: 0x1f; byte 0 is 13 bits 0x1ff8: 1111111111000 + 111 padding.
    assert.deepEqual(huffmanDecode(hex('1f')), Buffer.from('a'));
    assert.deepEqual(huffmanDecode(hex('ffc7')), Buffer.from([0]));
    assert.deepEqual(huffmanDecode(Buffer.alloc(0)), Buffer.alloc(0));
  });
});
