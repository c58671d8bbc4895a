import { runCapture } from './run.js';
import { buildFirstFrameSideDataArgs } from './args/inspect.js';

/** Transfer of an HDR source; SDR sources have none. */
export type HdrTransfer = 'PQ' | 'HLG';

/** ffprobe's color_transfer names of the HDR transfers vidpipe keeps on HEVC/AV1 and tone-maps for H.264. */
export function hdrTransferOf(colorTransfer: string | undefined): HdrTransfer | undefined {
  if (colorTransfer === 'smpte2084') return 'PQ';
  if (colorTransfer === 'arib-std-b67') return 'HLG';
  return undefined;
}

/** HDR10 static metadata of a source (SMPTE ST 2086 mastering display, CTA-861.3 light levels). */
export interface HdrStaticMetadata {
  /** CIE 1931 xy chromaticities and luminance in cd/m². */
  masteringDisplay?: {
    red: [number, number];
    green: [number, number];
    blue: [number, number];
    whitePoint: [number, number];
    minLuminance: number;
    maxLuminance: number;
  };
  /** MaxCLL and MaxFALL, cd/m². */
  contentLight?: { maxCll: number; maxFall: number };
}

interface RawSideData {
  side_data_type?: string;
  [key: string]: unknown;
}

function ratio(value: unknown): number {
  const [num, den] = String(value).split('/').map(Number);
  return den ? num! / den : Number(num);
}

/** Reads the metadata from ffprobe's side data of the first decoded frame (where HEVC/AV1 carry it). */
export function parseHdrSideData(sideData: RawSideData[]): HdrStaticMetadata {
  const metadata: HdrStaticMetadata = {};
  const mastering = sideData.find((d) => d.side_data_type === 'Mastering display metadata');
  if (mastering && mastering.red_x !== undefined && mastering.max_luminance !== undefined) {
    const xy = (name: string): [number, number] => [ratio(mastering[`${name}_x`]), ratio(mastering[`${name}_y`])];
    metadata.masteringDisplay = {
      red: xy('red'), green: xy('green'), blue: xy('blue'), whitePoint: xy('white_point'),
      minLuminance: ratio(mastering.min_luminance), maxLuminance: ratio(mastering.max_luminance),
    };
  }
  const light = sideData.find((d) => d.side_data_type === 'Content light level metadata');
  if (light && Number(light.max_content) > 0) metadata.contentLight = { maxCll: Number(light.max_content), maxFall: Number(light.max_average) };
  return metadata;
}

/** The source's HDR10 static metadata; empty when it has none (HLG usually has none). */
export async function probeHdrStaticMetadata(ffprobe: string, path: string, streamIndex: number, signal?: AbortSignal): Promise<HdrStaticMetadata> {
  const result = await runCapture(
    ffprobe,
    buildFirstFrameSideDataArgs(path, streamIndex),
    { signal, label: 'probe HDR metadata' },
  );
  if (result.exitCode !== 0) return {};
  const frames = (JSON.parse(result.stdout || '{}') as { frames?: { side_data_list?: RawSideData[] }[] }).frames ?? [];
  return parseHdrSideData(frames[0]?.side_data_list ?? []);
}

const round = (value: number) => Math.round(value);

/** x265's master-display (chromaticity in 0.00002 units, luminance in 0.0001 cd/m²) and max-cll parameters. */
export function x265HdrParams(metadata: HdrStaticMetadata | undefined): string[] {
  const params: string[] = [];
  const md = metadata?.masteringDisplay;
  if (md) {
    const xy = ([x, y]: [number, number]) => `(${round(x * 50000)},${round(y * 50000)})`;
    params.push(`master-display=G${xy(md.green)}B${xy(md.blue)}R${xy(md.red)}WP${xy(md.whitePoint)}L(${round(md.maxLuminance * 10000)},${round(md.minLuminance * 10000)})`);
  }
  if (metadata?.contentLight) params.push(`max-cll=${metadata.contentLight.maxCll},${metadata.contentLight.maxFall}`);
  return params;
}

/** SVT-AV1's mastering-display (decimal chromaticities and cd/m²) and content-light parameters. */
export function svtAv1HdrParams(metadata: HdrStaticMetadata | undefined): string[] {
  const params: string[] = [];
  const md = metadata?.masteringDisplay;
  if (md) {
    const xy = ([x, y]: [number, number]) => `(${x.toFixed(4)},${y.toFixed(4)})`;
    params.push(`mastering-display=G${xy(md.green)}B${xy(md.blue)}R${xy(md.red)}WP${xy(md.whitePoint)}L(${md.maxLuminance.toFixed(4)},${md.minLuminance.toFixed(4)})`);
  }
  if (metadata?.contentLight) params.push(`content-light=${metadata.contentLight.maxCll},${metadata.contentLight.maxFall}`);
  return params;
}
