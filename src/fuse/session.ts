/**
 * A mounted FUSE filesystem: the device, the mount, the request loop and
 * notifications, with a clean end on unmount or signal.
 */
import type { FileSystem } from '../fs/filesystem.js';
import { FuseDevice } from '../transport/fusedev.js';
import { mountFuse, unmountFuse, type MountOptions } from './mount.js';
import { Notifier } from './notify.js';
import type { SessionOptions } from './options.js';
import { Server } from './server.js';

export interface MountConfig {
  mount?: MountOptions;
  session?: SessionOptions;
}

export class FuseSession {
  readonly server: Server;
  readonly notify: Notifier;
  private serving: Promise<void> | undefined;
  private unmounted = false;
  private signalHandler: (() => void) | undefined;

  private constructor(readonly fs: FileSystem, readonly device: FuseDevice, readonly mountpoint: string, opts: SessionOptions) {
    this.server = new Server(fs, device, opts);
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
   */
  serve(): Promise<void> {
    this.serving ??= this.server.run(false).finally(() => {
      this.removeSignalHandlers();
      this.device.close();
    });
    return this.serving;
  }

  /** Unmount (lazily if busy). serve() resolves once the kernel lets go. */
  unmount(): void {
    if (this.unmounted) return;
    this.unmounted = true;
    try {
      unmountFuse(this.mountpoint, true);
    } catch (e) {
      // Already gone (umount(8) from outside) is fine.
      if (!/EINVAL|ENOENT|not mounted|not found/.test(String(e))) throw e;
    }
  }

  /** Unmount on SIGINT/SIGTERM/SIGHUP. */
  unmountOnSignals(signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']): this {
    const h = () => {
      try {
        this.unmount();
      } catch (e) {
        process.stderr.write(`passthroughfs: unmount failed: ${String(e)}\n`);
      }
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
