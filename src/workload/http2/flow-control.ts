import { ErrorCode, Http2Error, MAX_WINDOW } from './frame.js';

/** RFC 9113 6.9.2: every window's size until SETTINGS or WINDOW_UPDATE say otherwise. */
export const DEFAULT_WINDOW = 65535;

/** The windows of one stream; the connection's are those of stream 0. */
export interface Windows {
  readonly id: number;
  /** Bytes the peer lets us send. */
  sendWindow: number;
  /** Bytes received and delivered since our last WINDOW_UPDATE. */
  recvConsumed: number;
}

/** What makes a WINDOW_UPDATE an error: a stream error, or a connection error on stream 0. */
export interface WindowProblem {
  code: number;
  message: string;
}

/**
 * The arithmetic of HTTP/2 flow control (RFC 9113 5.2, 6.9) on the client's side; the connection
 * sends and receives the frames. What we send is held to both the stream's and the connection's
 * windows, which the peer opens with WINDOW_UPDATE and resizes with SETTINGS_INITIAL_WINDOW_SIZE.
 * What we receive is granted back once half a window has been used.
 */
export class FlowControl {
  readonly connection: Windows = { id: 0, sendWindow: DEFAULT_WINDOW, recvConsumed: 0 };
  /** The peer's SETTINGS_INITIAL_WINDOW_SIZE: a new stream's send window. */
  private peerInitialWindow = DEFAULT_WINDOW;

  /**
   * @param receiveWindow the window we grant each stream and the connection
   * @param grant sends a WINDOW_UPDATE of `increment` for stream `id` (0: the connection)
   */
  constructor(
    readonly receiveWindow: number,
    private readonly grant: (id: number, increment: number) => void,
  ) {}

  /** The windows of a stream opened now. */
  open(id: number): Windows {
    return { id, sendWindow: this.peerInitialWindow, recvConsumed: 0 };
  }

  /** How many of `wanted` bytes may go out on `s` now, taken from its window and the connection's; 0 or less: none. */
  take(s: Windows, wanted: number): number {
    const n = Math.min(wanted, s.sendWindow, this.connection.sendWindow);
    if (n <= 0) return n;
    s.sendWindow -= n;
    this.connection.sendWindow -= n;
    return n;
  }

  /** Grants consumed bytes back to the peer once half a window has been used. */
  consumed(w: Windows, size: number): void {
    w.recvConsumed += size;
    if (w.recvConsumed < this.receiveWindow / 2) return;
    this.grant(w.id, w.recvConsumed);
    w.recvConsumed = 0;
  }

  /** RFC 9113 6.9.2: a new initial window changes every open stream's window by the difference. */
  setInitialWindow(value: number, open: Iterable<Windows>): void {
    if (value > MAX_WINDOW) throw new Http2Error(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value}, more than 2^31-1`);
    const delta = value - this.peerInitialWindow;
    this.peerInitialWindow = value;
    for (const s of open) {
      s.sendWindow += delta;
      if (s.sendWindow > MAX_WINDOW) throw new Http2Error(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value} overflows the window of stream ${s.id}`);
    }
  }

  /** Opens `w`'s send window by a WINDOW_UPDATE's `increment`, unless it is one RFC 9113 6.9 and 6.9.1 forbid. */
  update(w: Windows, increment: number): WindowProblem | undefined {
    const connection = w.id === 0;
    if (increment === 0) return { code: ErrorCode.PROTOCOL_ERROR, message: connection ? 'WINDOW_UPDATE of 0 on the connection' : 'WINDOW_UPDATE of 0' };
    w.sendWindow += increment;
    if (w.sendWindow > MAX_WINDOW) return { code: ErrorCode.FLOW_CONTROL_ERROR, message: `WINDOW_UPDATE overflows the ${connection ? 'connection' : 'stream'} window` };
    return undefined;
  }
}
