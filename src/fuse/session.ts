/**
 * A mounted FUSE filesystem: the device, the mount, the protocol, the
 * /dev/fuse request loop and notifications, with a clean end on unmount or
 * signal.
 */
import type { FileSystem } from '../fs/filesystem.js';
import { FuseDevice } from '../transport/fusedev/device.js';
import { isMountPoint, mountFuse, unmountFuseAsync, type MountOptions } from './mount.js';
import { Notifier } from './notify.js';
import type { SessionOptions } from './options.js';
import { Server } from './server.js';
import { FuseDevLoop } from '../transport/fusedev/loop.js';

export interface MountConfig {
  mount?: MountOptions;
  session?: SessionOptions;
}

export class FuseSession {
  readonly server: Server;
  readonly notify: Notifier;
  private readonly loop: FuseDevLoop;
  private serving: Promise<void> | undefined;
  private unmounted = false;
  private signalHandler: (() => void) | undefined;

  private constructor(readonly fs: FileSystem, readonly device: FuseDevice, readonly mountpoint: string, opts: SessionOptions) {
    this.server = new Server(fs, device, opts);
    this.loop = new FuseDevLoop(this.server, device, this.server.log);
    this.notify = new Notifier(device, this.server.bufSize);
    this.server.onNotifyReply = (u, n, o, d) => this.notify.onReply(u, n, o, d);
  }

  /** Mount `fs` at `mountpoint`. Call serve() next: until then, calls into the mount wait. */
  static mount(fs: FileSystem, mountpoint: string, cfg: MountConfig = {}): FuseSession {
    const dev = mountFuse(mountpoint, cfg.mount);
    return new FuseSession(fs, dev, mountpoint, cfg.session ?? {});
  }

  /**
   * Serve requests on this thread until the filesystem is unmounted. Resolves
   * once in-flight requests have finished and the device is closed.
   *
   * `ownThread`: this thread does nothing but serve (as in the passthroughfs
   * daemon): it sleeps in poll(2) between requests and lets the event loop
   * run only now and then. Otherwise requests are awaited on the thread pool
   * and the event loop stays fully responsive.
   */
  serve(opts: { ownThread?: boolean } = {}): Promise<void> {
    this.serving ??= this.loop.run(opts.ownThread ?? false).finally(() => {
      this.removeSignalHandlers();
      this.device.close();
    });
    return this.serving;
  }

  /**
   * Unmount (lazily if busy). serve() resolves once the kernel lets go. Safe to
   * call from the serving thread: the unmount itself runs elsewhere.
   */
  async unmount(): Promise<void> {
    if (this.unmounted) return;
    this.unmounted = true;
    try {
      await unmountFuseAsync(this.mountpoint);
    } catch (e) {
      // Already gone (umount(8) from outside) is fine.
      if (isMountPoint(this.mountpoint)) throw e;
    }
  }

  /** Unmount on SIGINT/SIGTERM/SIGHUP. */
  unmountOnSignals(signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']): this {
    const h = () => {
      this.unmount().catch((e: unknown) => process.stderr.write(`passthroughfs: unmount failed: ${String(e)}\n`));
    };
    for (const s of signals) process.on(s, h);
    this.signalHandler = () => {
      for (const s of signals) process.off(s, h);
    };
    return this;
  }

  private removeSignalHandlers(): void {
    this.signalHandler?.();
    this.signalHandler = undefined;
  }
}
