/**
 * The audio's nodes: the loudness pass when the plan measures it (before every encode, whose
 * gain it sets), each rendition's encode and its package.
 */
import { encodeAudio } from '../../core/stages/encode-audio.js';
import { analyseLoudness, gainFor } from '../../core/stages/loudness.js';
import { node, type NodeRef } from '../nodes.js';
import { addPackage, type MainGraph } from './builder.js';

export interface AudioNodes {
  packages: NodeRef<'package'>[];
}

export function audioNodes(graph: MainGraph): AudioNodes {
  const { add, source, plan } = graph;
  const { video } = plan;
  const loudness = plan.measureLoudness
    ? add(node.loudness, {
        label: plan.loudnessTarget === undefined ? 'Measure loudness' : `Measure loudness (target ${plan.loudnessTarget} LUFS)`,
        dependsOn: [node.plan],
        run: (_r, ctx) =>
          analyseLoudness({ source: source.path, renditions: plan.audio, target: plan.loudnessTarget, durationSeconds: plan.durationSeconds, maxDecodeErrors: video ? plan.maxAudioDecodeErrors : 0 }, ctx),
      })
    : undefined;
  const packages = plan.audio.map((rendition) => {
    const encoded = add(node.encodeAudio(rendition.id), {
      label: `Encode audio ${rendition.id}`,
      dependsOn: [loudness ?? node.plan],
      run: (results, ctx) =>
        encodeAudio(
          {
            source: source.path,
            rendition,
            fitToSeconds: video ? plan.durationSeconds : undefined,
            durationSeconds: plan.durationSeconds,
            gain: gainFor(loudness ? results.get(loudness) : undefined, rendition),
            measureOutput: loudness !== undefined,
            target: plan.loudnessTarget,
            maxDecodeErrors: plan.maxAudioDecodeErrors,
          },
          ctx,
        ),
    });
    return addPackage(graph, rendition.id, (results) => results.get(encoded).path, [encoded], 'audio', plan.audioFragmentSeconds);
  });
  return { packages };
}
