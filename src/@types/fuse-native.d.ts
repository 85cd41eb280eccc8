declare module 'fuse-native' {
  class Fuse {
    constructor(mnt: string, ops: object, opts?: object);
    mount(cb: (err?: Error | null) => void): void;
    unmount(cb: (err?: Error | null) => void): void;
    /** The libfuse `-o` argument built from the constructor options. */
    protected _fuseOptions(): string;
    static unmount(mnt: string, cb: (err?: Error | null) => void): void;
    static ENOENT: number;
    static EROFS: number;
    static EIO: number;
    static EISDIR: number;
    static EACCES: number;
  }
  export = Fuse;
}
