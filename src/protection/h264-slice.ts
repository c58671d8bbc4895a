/**
 * H.264 slice header length (ITU-T H.264 §7.3.3), from the SPS and PPS it refers to: 'cbcs'
 * (and vidpipe's 'cenc') keep the slice header clear, so a decryptor that parses it — Apple's
 * does — reads real values. Only the fields that decide the header's length are kept.
 */
import { VidpipeError } from '../errors.js';
import { malformed } from '../media/mp4-boxes.js';
import { ExpGolombReader } from './rbsp.js';

export interface H264Sps {
  id: number;
  chromaArrayType: number;
  separateColourPlane: boolean;
  log2MaxFrameNum: number;
  picOrderCntType: number;
  log2MaxPicOrderCntLsb: number;
  deltaPicOrderAlwaysZero: boolean;
  frameMbsOnly: boolean;
}

export interface H264Pps {
  id: number;
  spsId: number;
  entropyCodingMode: boolean;
  bottomFieldPicOrderInFramePresent: boolean;
  numRefIdxL0DefaultMinus1: number;
  numRefIdxL1DefaultMinus1: number;
  weightedPred: boolean;
  weightedBipredIdc: number;
  deblockingFilterControlPresent: boolean;
  redundantPicCntPresent: boolean;
}

export interface H264ParameterSets {
  sps: Map<number, H264Sps>;
  pps: Map<number, H264Pps>;
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function skipScalingList(reader: ExpGolombReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + reader.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** `rbsp`: the SPS NAL unit's RBSP including its one-byte NAL header. */
export function parseH264Sps(rbsp: Buffer): H264Sps {
  const reader = new ExpGolombReader(rbsp);
  reader.skip(8); // NAL header
  const profileIdc = reader.u(8);
  reader.skip(16); // constraint flags, level_idc
  const id = reader.ue();
  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = reader.ue();
    if (chromaFormatIdc === 3) separateColourPlane = reader.flag();
    reader.ue(); // bit_depth_luma_minus8
    reader.ue(); // bit_depth_chroma_minus8
    reader.skip(1); // qpprime_y_zero_transform_bypass_flag
    if (reader.flag()) {
      for (let i = 0; i < (chromaFormatIdc !== 3 ? 8 : 12); i++) {
        if (reader.flag()) skipScalingList(reader, i < 6 ? 16 : 64);
      }
    }
  }
  const log2MaxFrameNum = reader.ue() + 4;
  const picOrderCntType = reader.ue();
  let log2MaxPicOrderCntLsb = 0;
  let deltaPicOrderAlwaysZero = false;
  if (picOrderCntType === 0) log2MaxPicOrderCntLsb = reader.ue() + 4;
  else if (picOrderCntType === 1) {
    deltaPicOrderAlwaysZero = reader.flag();
    reader.se(); // offset_for_non_ref_pic
    reader.se(); // offset_for_top_to_bottom_field
    const cycle = reader.ue();
    for (let i = 0; i < cycle; i++) reader.se();
  }
  reader.ue(); // max_num_ref_frames
  reader.skip(1); // gaps_in_frame_num_value_allowed_flag
  reader.ue(); // pic_width_in_mbs_minus1
  reader.ue(); // pic_height_in_map_units_minus1
  const frameMbsOnly = reader.flag();
  return {
    id,
    chromaArrayType: separateColourPlane ? 0 : chromaFormatIdc,
    separateColourPlane,
    log2MaxFrameNum,
    picOrderCntType,
    log2MaxPicOrderCntLsb,
    deltaPicOrderAlwaysZero,
    frameMbsOnly,
  };
}

export function parseH264Pps(rbsp: Buffer): H264Pps {
  const reader = new ExpGolombReader(rbsp);
  reader.skip(8); // NAL header
  const id = reader.ue();
  const spsId = reader.ue();
  const entropyCodingMode = reader.flag();
  const bottomFieldPicOrderInFramePresent = reader.flag();
  if (reader.ue() > 0) {
    // Slice groups (FMO, Baseline/Extended only) add a field whose length needs the map; no
    // encoder vidpipe runs writes them.
    throw new VidpipeError('USAGE', 'cannot encrypt H.264 with slice groups (FMO): re-encode it with vidpipe first');
  }
  const numRefIdxL0DefaultMinus1 = reader.ue();
  const numRefIdxL1DefaultMinus1 = reader.ue();
  const weightedPred = reader.flag();
  const weightedBipredIdc = reader.u(2);
  reader.se(); // pic_init_qp_minus26
  reader.se(); // pic_init_qs_minus26
  reader.se(); // chroma_qp_index_offset
  const deblockingFilterControlPresent = reader.flag();
  reader.skip(1); // constrained_intra_pred_flag
  const redundantPicCntPresent = reader.flag();
  return {
    id,
    spsId,
    entropyCodingMode,
    bottomFieldPicOrderInFramePresent,
    numRefIdxL0DefaultMinus1,
    numRefIdxL1DefaultMinus1,
    weightedPred,
    weightedBipredIdc,
    deblockingFilterControlPresent,
    redundantPicCntPresent,
  };
}

const SLICE_P = 0;
const SLICE_B = 1;
const SLICE_I = 2;
const SLICE_SP = 3;
const SLICE_SI = 4;

function skipRefPicListModification(reader: ExpGolombReader): void {
  if (!reader.flag()) return;
  for (;;) {
    const idc = reader.ue();
    if (idc === 3) return;
    if (idc > 5) throw malformed(`H.264 modification_of_pic_nums_idc ${idc}`);
    reader.ue(); // abs_diff_pic_num_minus1 / long_term_pic_num / abs_diff_view_idx_minus1
  }
}

function skipPredWeightTable(reader: ExpGolombReader, sps: H264Sps, l0: number, l1: number | undefined): void {
  reader.ue(); // luma_log2_weight_denom
  if (sps.chromaArrayType !== 0) reader.ue(); // chroma_log2_weight_denom
  for (const count of l1 === undefined ? [l0] : [l0, l1]) {
    for (let i = 0; i < count; i++) {
      if (reader.flag()) {
        reader.se();
        reader.se();
      }
      if (sps.chromaArrayType !== 0 && reader.flag()) for (let j = 0; j < 4; j++) reader.se();
    }
  }
}

function skipDecRefPicMarking(reader: ExpGolombReader, idr: boolean): void {
  if (idr) {
    reader.skip(2); // no_output_of_prior_pics_flag, long_term_reference_flag
    return;
  }
  if (!reader.flag()) return; // adaptive_ref_pic_marking_mode_flag
  for (;;) {
    const mmco = reader.ue();
    if (mmco === 0) return;
    if (mmco > 6) throw malformed(`H.264 memory_management_control_operation ${mmco}`);
    if (mmco === 1 || mmco === 3) reader.ue();
    if (mmco === 2) reader.ue();
    if (mmco === 3 || mmco === 6) reader.ue();
    if (mmco === 4) reader.ue();
  }
}

/**
 * Bits of the slice header of a coded slice NAL (types 1 and 5), NAL header included, counted
 * on the RBSP. `rbsp` starts at the NAL header.
 */
export function h264SliceHeaderBits(rbsp: Buffer, sets: H264ParameterSets): number {
  const reader = new ExpGolombReader(rbsp);
  reader.skip(1);
  const nalRefIdc = reader.u(2);
  const nalType = reader.u(5);
  const idr = nalType === 5;
  reader.ue(); // first_mb_in_slice
  const sliceType = reader.ue() % 5;
  const ppsId = reader.ue();
  const pps = sets.pps.get(ppsId);
  if (!pps) throw malformed(`H.264 slice refers to PPS ${ppsId}, which the stream does not carry`);
  const sps = sets.sps.get(pps.spsId);
  if (!sps) throw malformed(`H.264 PPS ${ppsId} refers to SPS ${pps.spsId}, which the stream does not carry`);
  if (sps.separateColourPlane) reader.skip(2); // colour_plane_id
  reader.skip(sps.log2MaxFrameNum); // frame_num
  let fieldPic = false;
  if (!sps.frameMbsOnly) {
    fieldPic = reader.flag();
    if (fieldPic) reader.skip(1); // bottom_field_flag
  }
  if (idr) reader.ue(); // idr_pic_id
  if (sps.picOrderCntType === 0) {
    reader.skip(sps.log2MaxPicOrderCntLsb);
    if (pps.bottomFieldPicOrderInFramePresent && !fieldPic) reader.se();
  }
  if (sps.picOrderCntType === 1 && !sps.deltaPicOrderAlwaysZero) {
    reader.se();
    if (pps.bottomFieldPicOrderInFramePresent && !fieldPic) reader.se();
  }
  if (pps.redundantPicCntPresent) reader.ue();
  if (sliceType === SLICE_B) reader.skip(1); // direct_spatial_mv_pred_flag
  let l0 = pps.numRefIdxL0DefaultMinus1 + 1;
  let l1 = pps.numRefIdxL1DefaultMinus1 + 1;
  if (sliceType === SLICE_P || sliceType === SLICE_SP || sliceType === SLICE_B) {
    if (reader.flag()) {
      l0 = reader.ue() + 1;
      if (sliceType === SLICE_B) l1 = reader.ue() + 1;
    }
  }
  if (sliceType !== SLICE_I && sliceType !== SLICE_SI) {
    skipRefPicListModification(reader);
    if (sliceType === SLICE_B) skipRefPicListModification(reader);
  }
  if ((pps.weightedPred && (sliceType === SLICE_P || sliceType === SLICE_SP)) || (pps.weightedBipredIdc === 1 && sliceType === SLICE_B)) {
    skipPredWeightTable(reader, sps, l0, sliceType === SLICE_B ? l1 : undefined);
  }
  if (nalRefIdc !== 0) skipDecRefPicMarking(reader, idr);
  if (pps.entropyCodingMode && sliceType !== SLICE_I && sliceType !== SLICE_SI) reader.ue(); // cabac_init_idc
  reader.se(); // slice_qp_delta
  if (sliceType === SLICE_SP || sliceType === SLICE_SI) {
    if (sliceType === SLICE_SP) reader.skip(1); // sp_for_switch_flag
    reader.se(); // slice_qs_delta
  }
  if (pps.deblockingFilterControlPresent) {
    if (reader.ue() !== 1) {
      reader.se();
      reader.se();
    }
  }
  return reader.position;
}
