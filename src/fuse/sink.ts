/**
 * The seam between the FUSE protocol and a transport.
 *
 * A transport (the /dev/fuse device, a virtio-fs virtqueue, an io_uring
 * entry) hands the protocol one request at a time together with the place
 * its answer goes: a ReplySink made for that request. The protocol calls the
 * sink exactly once, now or later (an async filesystem method), with the
 * whole reply, or says that there is none (FORGET, BATCH_FORGET, INTERRUPT,
 * NOTIFY_REPLY), so the transport can release what the request occupies (a
 * descriptor chain goes back to the used ring either way).
 */

export interface ReplySink {
  /**
   * Send the reply in buf[0, len): the fuse_out_header (its len field already
   * set to `len`) and the payload. Returns 0, or a negative errno when the
   * reply could not be delivered (-ENOENT: the request was interrupted and is
   * gone; others: the transport failed). `buf` is the caller's again once this
   * returns.
   */
  reply(buf: Buffer, len: number): number;
  /** The request gets no reply. */
  none(): void;
  /**
   * Optional, for transports that can move file data themselves (virtio-fs:
   * preadv straight into the guest's buffers): reply with the header in
   * header[0, 16) followed by up to `length` bytes of `fd` at `offset`. The
   * sink reads the data, sets the header's len to 16 plus what it read, and
   * delivers the reply. Returns the bytes of data sent (0 also when the
   * transport had to answer otherwise, e.g. the guest's buffers were too
   * small), or a negative errno when reading failed and nothing was sent
   * (the protocol then answers with that error through reply()).
   */
  replyFromFile?(header: Buffer, fd: number, offset: number, length: number): number;
}

export interface RequestHandler {
  /**
   * Handle the request in buf[0, len) (fuse_in_header first) and answer it
   * through `sink`. Never throws. Returns true when the request still refers
   * to `buf` after returning (it is answered later and its names or data are
   * views into buf): the transport must then not reuse `buf` until `sink`
   * has been called; false when `buf` is free again.
   */
  handle(buf: Buffer, len: number, sink: ReplySink): boolean;
}
