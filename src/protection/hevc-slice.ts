/**
 * HEVC slice segment header length (ITU-T H.265 §7.3.6), from the SPS and PPS it refers to;
 * see h264-slice.ts for why. Single-layer streams (what vidpipe's encoders write); multi-layer
 * and screen-content extensions are refused rather than mis-measured.
 */
import { VidpipeError } from '../errors.js';
import { malformed } from '../media/mp4-boxes.js';
import { ceilLog2, ExpGolombReader } from './rbsp.js';

/** One short-term reference picture set: what a later inter-predicted set and the slice need. */
interface ShortTermRps {
  deltaPocS0: number[];
  usedS0: boolean[];
  deltaPocS1: number[];
  usedS1: boolean[];
}

export interface HevcSps {
  id: number;
  chromaArrayType: number;
  separateColourPlane: boolean;
  log2MaxPicOrderCntLsb: number;
  picSizeInCtbsY: number;
  sampleAdaptiveOffset: boolean;
  shortTermRps: ShortTermRps[];
  longTermRefPicsPresent: boolean;
  /** used_by_curr_pic_lt_sps_flag of each long-term picture listed in the SPS. */
  longTermUsedSps: boolean[];
  temporalMvp: boolean;
}

export interface HevcPps {
  id: number;
  spsId: number;
  dependentSliceSegments: boolean;
  outputFlagPresent: boolean;
  numExtraSliceHeaderBits: number;
  cabacInitPresent: boolean;
  numRefIdxL0DefaultMinus1: number;
  numRefIdxL1DefaultMinus1: number;
  sliceChromaQpOffsetsPresent: boolean;
  weightedPred: boolean;
  weightedBipred: boolean;
  tilesOrEntropySync: boolean;
  loopFilterAcrossSlices: boolean;
  deblockingOverrideEnabled: boolean;
  deblockingDisabled: boolean;
  listsModificationPresent: boolean;
  sliceHeaderExtensionPresent: boolean;
  chromaQpOffsetListEnabled: boolean;
}

export interface HevcParameterSets {
  sps: Map<number, HevcSps>;
  pps: Map<number, HevcPps>;
}

function skipProfileTierLevel(reader: ExpGolombReader, maxSubLayersMinus1: number): void {
  reader.skip(88); // general profile space … general constraint flags
  reader.skip(8); // general_level_idc
  const profilePresent: boolean[] = [];
  const levelPresent: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    profilePresent.push(reader.flag());
    levelPresent.push(reader.flag());
  }
  if (maxSubLayersMinus1 > 0) reader.skip(2 * (8 - maxSubLayersMinus1));
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (profilePresent[i]) reader.skip(88);
    if (levelPresent[i]) reader.skip(8);
  }
}

function skipScalingListData(reader: ExpGolombReader): void {
  for (let sizeId = 0; sizeId < 4; sizeId++) {
    for (let matrixId = 0; matrixId < 6; matrixId += sizeId === 3 ? 3 : 1) {
      if (!reader.flag()) {
        reader.ue(); // scaling_list_pred_matrix_id_delta
        continue;
      }
      const coefficients = Math.min(64, 1 << (4 + (sizeId << 1)));
      if (sizeId > 1) reader.se(); // scaling_list_dc_coef_minus8
      for (let i = 0; i < coefficients; i++) reader.se();
    }
  }
}

/** st_ref_pic_set(index) (§7.3.7, derivation §7.4.8), given the sets read before it. */
function readShortTermRps(reader: ExpGolombReader, index: number, count: number, previous: ShortTermRps[]): ShortTermRps {
  const interPredicted = index !== 0 && reader.flag();
  if (!interPredicted) {
    const negatives = reader.ue();
    const positives = reader.ue();
    if (negatives > 16 || positives > 16) throw malformed(`HEVC reference picture set with ${negatives}+${positives} pictures`);
    const rps: ShortTermRps = { deltaPocS0: [], usedS0: [], deltaPocS1: [], usedS1: [] };
    let poc = 0;
    for (let i = 0; i < negatives; i++) {
      poc -= reader.ue() + 1;
      rps.deltaPocS0.push(poc);
      rps.usedS0.push(reader.flag());
    }
    poc = 0;
    for (let i = 0; i < positives; i++) {
      poc += reader.ue() + 1;
      rps.deltaPocS1.push(poc);
      rps.usedS1.push(reader.flag());
    }
    return rps;
  }
  const deltaIdx = index === count ? reader.ue() + 1 : 1;
  const ref = previous[index - deltaIdx];
  if (!ref) throw malformed(`HEVC reference picture set ${index} predicts from a set that does not exist`);
  const sign = reader.flag() ? -1 : 1;
  const deltaRps = sign * (reader.ue() + 1);
  const refCount = ref.deltaPocS0.length + ref.deltaPocS1.length;
  const used: boolean[] = [];
  const useDelta: boolean[] = [];
  for (let j = 0; j <= refCount; j++) {
    used.push(reader.flag());
    useDelta.push(used[j] ? true : reader.flag());
  }
  const negatives = ref.deltaPocS0.length;
  const rps: ShortTermRps = { deltaPocS0: [], usedS0: [], deltaPocS1: [], usedS1: [] };
  // Equations 7-61 and 7-62.
  for (let j = ref.deltaPocS1.length - 1; j >= 0; j--) {
    const dPoc = ref.deltaPocS1[j]! + deltaRps;
    if (dPoc < 0 && useDelta[negatives + j]) rps.deltaPocS0.push(dPoc), rps.usedS0.push(used[negatives + j]!);
  }
  if (deltaRps < 0 && useDelta[refCount]) rps.deltaPocS0.push(deltaRps), rps.usedS0.push(used[refCount]!);
  for (let j = 0; j < negatives; j++) {
    const dPoc = ref.deltaPocS0[j]! + deltaRps;
    if (dPoc < 0 && useDelta[j]) rps.deltaPocS0.push(dPoc), rps.usedS0.push(used[j]!);
  }
  for (let j = negatives - 1; j >= 0; j--) {
    const dPoc = ref.deltaPocS0[j]! + deltaRps;
    if (dPoc > 0 && useDelta[j]) rps.deltaPocS1.push(dPoc), rps.usedS1.push(used[j]!);
  }
  if (deltaRps > 0 && useDelta[refCount]) rps.deltaPocS1.push(deltaRps), rps.usedS1.push(used[refCount]!);
  for (let j = 0; j < ref.deltaPocS1.length; j++) {
    const dPoc = ref.deltaPocS1[j]! + deltaRps;
    if (dPoc > 0 && useDelta[negatives + j]) rps.deltaPocS1.push(dPoc), rps.usedS1.push(used[negatives + j]!);
  }
  return rps;
}

/** `rbsp`: the SPS NAL unit's RBSP including its two-byte NAL header. */
export function parseHevcSps(rbsp: Buffer): HevcSps {
  const reader = new ExpGolombReader(rbsp);
  reader.skip(16); // NAL header
  reader.skip(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = reader.u(3);
  reader.skip(1); // sps_temporal_id_nesting_flag
  skipProfileTierLevel(reader, maxSubLayersMinus1);
  const id = reader.ue();
  const chromaFormatIdc = reader.ue();
  const separateColourPlane = chromaFormatIdc === 3 && reader.flag();
  const width = reader.ue();
  const height = reader.ue();
  if (reader.flag()) for (let i = 0; i < 4; i++) reader.ue(); // conformance window
  reader.ue(); // bit_depth_luma_minus8
  reader.ue(); // bit_depth_chroma_minus8
  const log2MaxPicOrderCntLsb = reader.ue() + 4;
  const orderingInfoForAll = reader.flag();
  for (let i = orderingInfoForAll ? 0 : maxSubLayersMinus1; i <= maxSubLayersMinus1; i++) {
    reader.ue();
    reader.ue();
    reader.ue();
  }
  const log2MinCb = reader.ue() + 3;
  const log2Ctb = log2MinCb + reader.ue();
  reader.ue(); // log2_min_luma_transform_block_size_minus2
  reader.ue(); // log2_diff_max_min_luma_transform_block_size
  reader.ue(); // max_transform_hierarchy_depth_inter
  reader.ue(); // max_transform_hierarchy_depth_intra
  if (reader.flag() && reader.flag()) skipScalingListData(reader);
  reader.skip(1); // amp_enabled_flag
  const sampleAdaptiveOffset = reader.flag();
  if (reader.flag()) {
    reader.skip(8); // pcm sample bit depths
    reader.ue();
    reader.ue();
    reader.skip(1);
  }
  const rpsCount = reader.ue();
  if (rpsCount > 64) throw malformed(`HEVC SPS lists ${rpsCount} reference picture sets`);
  const shortTermRps: ShortTermRps[] = [];
  for (let i = 0; i < rpsCount; i++) shortTermRps.push(readShortTermRps(reader, i, rpsCount, shortTermRps));
  const longTermRefPicsPresent = reader.flag();
  const longTermUsedSps: boolean[] = [];
  if (longTermRefPicsPresent) {
    const count = reader.ue();
    for (let i = 0; i < count; i++) {
      reader.skip(log2MaxPicOrderCntLsb);
      longTermUsedSps.push(reader.flag());
    }
  }
  const temporalMvp = reader.flag();
  const ctbSize = 2 ** log2Ctb;
  return {
    id,
    chromaArrayType: separateColourPlane ? 0 : chromaFormatIdc,
    separateColourPlane,
    log2MaxPicOrderCntLsb,
    picSizeInCtbsY: Math.ceil(width / ctbSize) * Math.ceil(height / ctbSize),
    sampleAdaptiveOffset,
    shortTermRps,
    longTermRefPicsPresent,
    longTermUsedSps,
    temporalMvp,
  };
}

export function parseHevcPps(rbsp: Buffer): HevcPps {
  const reader = new ExpGolombReader(rbsp);
  reader.skip(16); // NAL header
  const id = reader.ue();
  const spsId = reader.ue();
  const dependentSliceSegments = reader.flag();
  const outputFlagPresent = reader.flag();
  const numExtraSliceHeaderBits = reader.u(3);
  reader.skip(1); // sign_data_hiding_enabled_flag
  const cabacInitPresent = reader.flag();
  const numRefIdxL0DefaultMinus1 = reader.ue();
  const numRefIdxL1DefaultMinus1 = reader.ue();
  reader.se(); // init_qp_minus26
  reader.skip(1); // constrained_intra_pred_flag
  const transformSkip = reader.flag();
  if (reader.flag()) reader.ue(); // cu_qp_delta_enabled_flag → diff_cu_qp_delta_depth
  reader.se(); // pps_cb_qp_offset
  reader.se(); // pps_cr_qp_offset
  const sliceChromaQpOffsetsPresent = reader.flag();
  const weightedPred = reader.flag();
  const weightedBipred = reader.flag();
  reader.skip(1); // transquant_bypass_enabled_flag
  const tiles = reader.flag();
  const entropySync = reader.flag();
  if (tiles) {
    const columns = reader.ue();
    const rows = reader.ue();
    if (!reader.flag()) for (let i = 0; i < columns + rows; i++) reader.ue();
    reader.skip(1); // loop_filter_across_tiles_enabled_flag
  }
  const loopFilterAcrossSlices = reader.flag();
  let deblockingOverrideEnabled = false;
  let deblockingDisabled = false;
  if (reader.flag()) {
    deblockingOverrideEnabled = reader.flag();
    deblockingDisabled = reader.flag();
    if (!deblockingDisabled) {
      reader.se();
      reader.se();
    }
  }
  if (reader.flag()) skipScalingListData(reader);
  const listsModificationPresent = reader.flag();
  reader.ue(); // log2_parallel_merge_level_minus2
  const sliceHeaderExtensionPresent = reader.flag();
  let chromaQpOffsetListEnabled = false;
  if (reader.flag()) {
    const range = reader.flag();
    const multilayer = reader.flag();
    const threeD = reader.flag();
    const screenContent = reader.flag();
    reader.skip(4);
    if (multilayer || threeD || screenContent) {
      throw new VidpipeError('USAGE', 'cannot encrypt HEVC with multi-layer, 3D or screen-content extensions');
    }
    if (range) {
      if (transformSkip) reader.ue(); // log2_max_transform_skip_block_size_minus2
      reader.skip(1); // cross_component_prediction_enabled_flag
      chromaQpOffsetListEnabled = reader.flag();
    }
  }
  return {
    id,
    spsId,
    dependentSliceSegments,
    outputFlagPresent,
    numExtraSliceHeaderBits,
    cabacInitPresent,
    numRefIdxL0DefaultMinus1,
    numRefIdxL1DefaultMinus1,
    sliceChromaQpOffsetsPresent,
    weightedPred,
    weightedBipred,
    tilesOrEntropySync: tiles || entropySync,
    loopFilterAcrossSlices,
    deblockingOverrideEnabled,
    deblockingDisabled,
    listsModificationPresent,
    sliceHeaderExtensionPresent,
    chromaQpOffsetListEnabled,
  };
}

const SLICE_B = 0;
const SLICE_P = 1;
const IDR_W_RADL = 19;
const IDR_N_LP = 20;

function skipPredWeightTable(reader: ExpGolombReader, chromaArrayType: number, lists: number[]): void {
  reader.ue(); // luma_log2_weight_denom
  if (chromaArrayType !== 0) reader.se(); // delta_chroma_log2_weight_denom
  for (const count of lists) {
    const luma = Array.from({ length: count }, () => reader.flag());
    const chroma = Array.from({ length: count }, () => chromaArrayType !== 0 && reader.flag());
    for (let i = 0; i < count; i++) {
      if (luma[i]) {
        reader.se();
        reader.se();
      }
      if (chroma[i]) for (let j = 0; j < 4; j++) reader.se();
    }
  }
}

/**
 * Bytes of the slice segment header of a VCL NAL (types 0–31), NAL header included, counted on
 * the RBSP: the header ends with byte_alignment(), so this is exact. `rbsp` starts at the NAL header.
 */
export function hevcSliceHeaderBytes(rbsp: Buffer, sets: HevcParameterSets): number {
  const reader = new ExpGolombReader(rbsp);
  reader.skip(1);
  const nalType = reader.u(6);
  if (reader.u(6) !== 0) throw new VidpipeError('USAGE', 'cannot encrypt multi-layer HEVC (a NAL unit with nuh_layer_id > 0)');
  reader.skip(3); // nuh_temporal_id_plus1
  const firstSliceSegment = reader.flag();
  if (nalType >= 16 && nalType <= 23) reader.skip(1); // no_output_of_prior_pics_flag
  const ppsId = reader.ue();
  const pps = sets.pps.get(ppsId);
  if (!pps) throw malformed(`HEVC slice refers to PPS ${ppsId}, which the stream does not carry`);
  const sps = sets.sps.get(pps.spsId);
  if (!sps) throw malformed(`HEVC PPS ${ppsId} refers to SPS ${pps.spsId}, which the stream does not carry`);
  let dependent = false;
  if (!firstSliceSegment) {
    if (pps.dependentSliceSegments) dependent = reader.flag();
    reader.skip(ceilLog2(sps.picSizeInCtbsY)); // slice_segment_address
  }
  if (!dependent) {
    reader.skip(pps.numExtraSliceHeaderBits);
    const sliceType = reader.ue();
    if (pps.outputFlagPresent) reader.skip(1);
    if (sps.separateColourPlane) reader.skip(2);
    let numPicTotalCurr = 0;
    let temporalMvp = false;
    if (nalType !== IDR_W_RADL && nalType !== IDR_N_LP) {
      reader.skip(sps.log2MaxPicOrderCntLsb); // slice_pic_order_cnt_lsb
      let rps: ShortTermRps | undefined;
      if (!reader.flag()) rps = readShortTermRps(reader, sps.shortTermRps.length, sps.shortTermRps.length, sps.shortTermRps);
      else {
        const index = sps.shortTermRps.length > 1 ? reader.u(ceilLog2(sps.shortTermRps.length)) : 0;
        rps = sps.shortTermRps[index];
        if (!rps) throw malformed(`HEVC slice uses reference picture set ${index} of ${sps.shortTermRps.length}`);
      }
      numPicTotalCurr = [...rps.usedS0, ...rps.usedS1].filter(Boolean).length;
      if (sps.longTermRefPicsPresent) {
        const fromSps = sps.longTermUsedSps.length > 0 ? reader.ue() : 0;
        const inHeader = reader.ue();
        for (let i = 0; i < fromSps + inHeader; i++) {
          if (i < fromSps) {
            const index = sps.longTermUsedSps.length > 1 ? reader.u(ceilLog2(sps.longTermUsedSps.length)) : 0;
            if (sps.longTermUsedSps[index]) numPicTotalCurr++;
          } else {
            reader.skip(sps.log2MaxPicOrderCntLsb); // poc_lsb_lt
            if (reader.flag()) numPicTotalCurr++;
          }
          if (reader.flag()) reader.ue(); // delta_poc_msb_present_flag → delta_poc_msb_cycle_lt
        }
      }
      if (sps.temporalMvp) temporalMvp = reader.flag();
    }
    let saoLuma = false;
    let saoChroma = false;
    if (sps.sampleAdaptiveOffset) {
      saoLuma = reader.flag();
      if (sps.chromaArrayType !== 0) saoChroma = reader.flag();
    }
    if (sliceType === SLICE_P || sliceType === SLICE_B) {
      let l0 = pps.numRefIdxL0DefaultMinus1 + 1;
      let l1 = pps.numRefIdxL1DefaultMinus1 + 1;
      if (reader.flag()) {
        l0 = reader.ue() + 1;
        if (sliceType === SLICE_B) l1 = reader.ue() + 1;
      }
      if (pps.listsModificationPresent && numPicTotalCurr > 1) {
        const entryBits = ceilLog2(numPicTotalCurr);
        if (reader.flag()) reader.skip(l0 * entryBits);
        if (sliceType === SLICE_B && reader.flag()) reader.skip(l1 * entryBits);
      }
      if (sliceType === SLICE_B) reader.skip(1); // mvd_l1_zero_flag
      if (pps.cabacInitPresent) reader.skip(1);
      if (temporalMvp) {
        const fromL0 = sliceType === SLICE_B ? reader.flag() : true;
        if ((fromL0 && l0 > 1) || (!fromL0 && l1 > 1)) reader.ue(); // collocated_ref_idx
      }
      if ((pps.weightedPred && sliceType === SLICE_P) || (pps.weightedBipred && sliceType === SLICE_B)) {
        skipPredWeightTable(reader, sps.chromaArrayType, sliceType === SLICE_B ? [l0, l1] : [l0]);
      }
      reader.ue(); // five_minus_max_num_merge_cand
    }
    reader.se(); // slice_qp_delta
    if (pps.sliceChromaQpOffsetsPresent) {
      reader.se();
      reader.se();
    }
    if (pps.chromaQpOffsetListEnabled) reader.skip(1);
    const override = pps.deblockingOverrideEnabled && reader.flag();
    let deblockingDisabled = pps.deblockingDisabled;
    if (override) {
      deblockingDisabled = reader.flag();
      if (!deblockingDisabled) {
        reader.se();
        reader.se();
      }
    }
    if (pps.loopFilterAcrossSlices && (saoLuma || saoChroma || !deblockingDisabled)) reader.skip(1);
  }
  if (pps.tilesOrEntropySync) {
    const entryPoints = reader.ue();
    if (entryPoints > 0) {
      const offsetBits = reader.ue() + 1;
      if (offsetBits > 32) throw malformed(`HEVC entry point offsets of ${offsetBits} bits`);
      for (let i = 0; i < entryPoints; i++) reader.skip(offsetBits);
    }
  }
  if (pps.sliceHeaderExtensionPresent) reader.skip(reader.ue() * 8);
  // byte_alignment(): a one bit, then zero bits up to the byte boundary.
  if (!reader.flag()) throw malformed('HEVC slice header does not end with byte_alignment()');
  return Math.ceil(reader.position / 8);
}
