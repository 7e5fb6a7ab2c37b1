package dev.tether.daemon.internal.link;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;

/**
 * Used by the one link that owns it (its reader thread reads, its writers write under the link's output lock): the
 * TCP socket under a peer link's TLS, with streams that move many TLS records per system call. JSSE writes each
 * record of at most 16 KiB with a write and a flush of its own and reads each one with two reads (header, body), so
 * a GiB crossed a link in about 65,000 writes on one side and 131,000 reads on the other, and about as many wake-ups.
 * Reads here go through a {@value #BUFFER}-byte buffer; writes are gathered in one of the same size while the link
 * {@link #holdRecords() holds records}, and leave when it is full or when the link {@link #sendHeld() sends what is
 * held} (after each flush of its own). Until the link holds records (the handshake, the hello, pairing) every flush
 * goes out at once, as on a plain socket.
 */
final class BatchingSocket extends Socket {
  static final int BUFFER = 256 * 1024;

  private InputStream in;
  private Gathering out;

  @Override
  public synchronized InputStream getInputStream() throws IOException {
    if (in == null) {
      in = new BufferedInputStream(super.getInputStream(), BUFFER);
    }
    return in;
  }

  @Override
  public OutputStream getOutputStream() throws IOException {
    return gathering();
  }

  private synchronized Gathering gathering() throws IOException {
    if (out == null) {
      out = new Gathering(super.getOutputStream());
    }
    return out;
  }

  /** From now on, a flush of the TLS layer leaves its records gathered until {@link #sendHeld()} or a full buffer. */
  void holdRecords() throws IOException {
    gathering().hold();
  }

  /** Writes what is gathered; the link calls it after flushing the TLS layer. */
  void sendHeld() throws IOException {
    gathering().send();
  }

  /** Gathers written bytes; a flush passes through unless the link holds records. */
  private static final class Gathering extends OutputStream {
    private final OutputStream socket;
    private final byte[] buf = new byte[BUFFER];
    private int count;
    private volatile boolean holding;

    Gathering(OutputStream socket) {
      this.socket = socket;
    }

    void hold() {
      holding = true;
    }

    @Override
    public synchronized void write(int b) throws IOException {
      if (count == buf.length) {
        drain();
      }
      buf[count++] = (byte) b;
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
      if (len > buf.length - count) {
        drain();
      }
      if (len >= buf.length) {
        socket.write(b, off, len);
        return;
      }
      System.arraycopy(b, off, buf, count, len);
      count += len;
    }

    @Override
    public synchronized void flush() throws IOException {
      if (!holding) {
        send();
      }
    }

    synchronized void send() throws IOException {
      drain();
      socket.flush();
    }

    private void drain() throws IOException {
      if (count > 0) {
        int n = count;
        count = 0;
        socket.write(buf, 0, n);
      }
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
