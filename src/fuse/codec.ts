/**
 * The FUSE wire codec: request decoding and reply encoding for the server
 * (decode.ts / encode.ts), plus the reverse direction for tests and clients.
 */
export {
  decodeHeader, decodeRequest, decodeOutHeader, decodeAttr, decodeEntryOut, decodeAttrOut, decodeOpenOut,
  decodeCreateOut, decodeInitOut, decodeStatfsOut, decodeLkOut, decodeIoctlOut, decodeStatxOut, decodeDirents,
  decodeDirentPlus, decodeNotify, devMajor, devMinor, makeDev,
} from './decode.js';
export type { DecodeOptions, OutHeader, Dirent, DirentPlus, Notify } from './decode.js';
export {
  writeOutHeader, writeAttr, writeEntryOut, writeAttrOut, writeOpenOut, writeCreateOut, writeStatfsOut,
  writeWriteOut, writeGetxattrOut, writePollOut, writeLkOut, writeBmapOut, writeIoctlOut, writeIoctlIovec,
  writeLseekOut, writeCopyFileRangeOut64, writeStatxOut, initOutSize, writeInitOut, direntSize, writeDirent,
  direntPlusSize, writeDirentPlus, encodeNotifyPoll, encodeNotifyInvalInode, encodeNotifyInvalEntry,
  encodeNotifyDelete, encodeNotifyStore, encodeNotifyRetrieve, encodeNotifyResend, encodeNotifyIncEpoch,
  encodeNotifyPrune, encodeRequest, requestOpcode, setattrValid,
} from './encode.js';
export type { InitOut } from './encode.js';
export { ProtocolError } from './request.js';
export type { DecodedRequest, InHeader, Request, RequestExt, RequestOp } from './request.js';
