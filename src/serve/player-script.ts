/**
 * The player page's script (served as /_vidpipe/player.js). Plain browser JavaScript, kept
 * as a string so the compiled CLI needs no asset files. It drives hls.js, dash.js or Shaka
 * Player (on the DASH or the HLS manifest: a third implementation of both), fills
 * the rendition picker, shows storyboard thumbnails over the seek bar, and exposes its state
 * as window.vidpipePlayer for the browser tests.
 * With keys from --clear-key (config.clearKeys, hex) it plays encrypted packages: Shaka Player
 * and dash.js through EME's org.w3.clearkey (CENC 'cenc' and 'cbcs'), and each player's HLS key
 * requests (AES-128, and Shaka's SAMPLE-AES "identity" keys) answered by /_vidpipe/clear-key/<kid>.
 */
export const PLAYER_SCRIPT = String.raw`(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('vp-config').textContent);
  var video = document.getElementById('vp-video');
  var picker = document.getElementById('vp-rendition');
  var info = document.getElementById('vp-info');
  var state = {
    engine: config.engine, levels: [], currentLevel: -1, autoLevel: true, errors: [], warnings: [],
    storyboardCues: 0, select: function () {}
  };
  window.vidpipePlayer = state;

  function kbps(bits) { return Math.round(bits / 1000) + ' kb/s'; }
  function setLevels(levels) {
    state.levels = levels;
    picker.innerHTML = '<option value="-1">auto</option>' + levels.map(function (l, i) {
      return '<option value="' + i + '">' + l.label.replace(/[<&]/g, '') + '</option>';
    }).join('');
  }
  function showInfo() {
    var level = state.levels[state.currentLevel];
    info.textContent = (state.autoLevel ? 'auto → ' : 'fixed → ') + (level ? level.label : '?') +
      ' · decoded ' + video.videoWidth + 'x' + video.videoHeight + ' · t=' + video.currentTime.toFixed(1) + ' s';
  }
  function fail(kind, detail, fatal) {
    (fatal ? state.errors : state.warnings).push(kind + ': ' + detail);
    if (fatal) info.textContent = 'error: ' + kind + ': ' + detail;
  }
  function levelLabel(height, bitrate, codecs) {
    return (height ? height + 'p ' : 'audio ') + kbps(bitrate) + (codecs ? ' (' + codecs + ')' : '');
  }

  var clearKeys = config.clearKeys || [];
  state.clearKeys = clearKeys.length;
  function base64url(hex) {
    var bytes = '';
    for (var i = 0; i < hex.length; i += 2) bytes += String.fromCharCode(parseInt(hex.substr(i, 2), 16));
    return btoa(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  // An HLS key URI names no KID: with several keys, a key ID the player knows picks one, else the first.
  function keyUrl(kidHex) {
    var kid = (kidHex || '').replace(/^0x/i, '').toLowerCase();
    var chosen = clearKeys.filter(function (k) { return k.kid === kid; })[0] || clearKeys[0];
    return '/_vidpipe/clear-key/' + chosen.kid;
  }

  var manifest = config[config.manifest];
  if (!manifest) return fail('config', 'the package has no ' + (config.manifest === 'hls' ? 'master.m3u8' : 'manifest.mpd'), true);
  if (config.engine === 'hls') {
    if (!window.Hls || !Hls.isSupported()) return fail('hls.js', 'this browser has no Media Source Extensions', true);
    var hlsConfig = { capLevelToPlayerSize: false, startLevel: -1 };
    if (clearKeys.length) {
      // hls.js loads an AES-128 key with its default loader, the context naming the key: point it at ours.
      var DefaultLoader = Hls.DefaultConfig.loader;
      hlsConfig.loader = class extends DefaultLoader {
        load(context, loaderConfig, callbacks) {
          if (!context.keyInfo) return super.load(context, loaderConfig, callbacks);
          var data = context.keyInfo.decryptdata;
          var kid = data && data.keyId ? Array.prototype.map.call(data.keyId, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('') : '';
          // hls.js finds its key by the context's URL when the load ends: it gets the original context back.
          var redirected = Object.assign({}, context, { url: new URL(keyUrl(kid), location.href).href });
          return super.load(redirected, loaderConfig, {
            onSuccess: function (response, stats, _c, details) { callbacks.onSuccess(response, stats, context, details); },
            onError: function (response, _c, details, stats) { callbacks.onError(response, context, details, stats); },
            onTimeout: function (stats, _c, details) { callbacks.onTimeout(stats, context, details); },
            onAbort: callbacks.onAbort && function (stats, _c, details) { callbacks.onAbort(stats, context, details); },
            onProgress: callbacks.onProgress
          });
        }
      };
    }
    var hls = new Hls(hlsConfig);
    hls.on(Hls.Events.ERROR, function (_e, data) { fail('hls.js ' + data.type, data.details, data.fatal); });
    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      setLevels(hls.levels.map(function (l) {
        return { label: levelLabel(l.height, l.bitrate, [l.videoCodec, l.audioCodec].filter(Boolean).join(',')), width: l.width || 0, height: l.height || 0, bitrate: l.bitrate };
      }));
      video.play().catch(function (e) { fail('play', String(e), false); });
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, function (_e, data) { state.currentLevel = data.level; showInfo(); });
    state.select = function (index) {
      state.autoLevel = index < 0;
      hls.currentLevel = index; // -1: automatic switching
      picker.value = String(index);
    };
    hls.loadSource(manifest);
    hls.attachMedia(video);
  } else if (config.engine === 'dash') {
    var player = dashjs.MediaPlayer().create();
    var events = dashjs.MediaPlayer.events;
    var reps = [];
    player.on(events.ERROR, function (e) { fail('dash.js', (e.error && (e.error.message || e.error.code)) || 'error', true); });
    player.on(events.PLAYBACK_ERROR, function (e) { fail('dash.js playback', String(e.error || 'error'), true); });
    player.on(events.STREAM_INITIALIZED, function () {
      reps = player.getRepresentationsByType('video');
      setLevels(reps.map(function (r) {
        return { label: levelLabel(r.height, r.bandwidth, r.codecs), width: r.width, height: r.height, bitrate: r.bandwidth, id: r.id };
      }));
    });
    player.on(events.QUALITY_CHANGE_RENDERED, function (e) {
      if (e.mediaType !== 'video' || !e.newRepresentation) return;
      state.currentLevel = reps.findIndex(function (r) { return r.id === e.newRepresentation.id; });
      showInfo();
    });
    state.select = function (index) {
      state.autoLevel = index < 0;
      player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: index < 0 } } } });
      if (index >= 0) player.setRepresentationForTypeByIndex('video', index, true);
      picker.value = String(index);
    };
    if (clearKeys.length) {
      var dashKeys = {};
      clearKeys.forEach(function (k) { dashKeys[base64url(k.kid)] = base64url(k.key); });
      player.setProtectionData({ 'org.w3.clearkey': { clearkeys: dashKeys } });
    }
    player.initialize(video, manifest, true);
  } else {
    if (!window.shaka) return fail('shaka', 'Shaka Player did not load', true);
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) return fail('shaka', 'this browser has no Media Source Extensions', true);
    var sp = new shaka.Player();
    // A level per video stream (per audio stream for audio-only packages): Shaka's variants pair each with each audio.
    var keys = [];
    var keyOf = function (t) { return t.videoId !== null && t.videoId !== undefined ? 'v' + t.videoId : 'a' + t.audioId; };
    var active = function () { return sp.getVariantTracks().filter(function (t) { return t.active; })[0]; };
    var refresh = function () {
      var track = active();
      state.currentLevel = track ? keys.indexOf(keyOf(track)) : -1;
      showInfo();
    };
    sp.addEventListener('error', function (event) {
      var e = event.detail;
      fail('shaka ' + e.category + '/' + e.code, JSON.stringify(e.data || []).slice(0, 300), e.severity === shaka.util.Error.Severity.CRITICAL);
    });
    if (clearKeys.length) {
      var shakaKeys = {};
      clearKeys.forEach(function (k) { shakaKeys[k.kid] = k.key; });
      sp.configure({ drm: { clearKeys: shakaKeys } });
      // HLS key URIs (AES-128, SAMPLE-AES "identity") are fetched while parsing: answer them here.
      sp.getNetworkingEngine().registerRequestFilter(function (type, request) {
        if (type === shaka.net.NetworkingEngine.RequestType.KEY) request.uris = [new URL(keyUrl(''), location.href).href];
      });
    }
    sp.addEventListener('adaptation', refresh);
    sp.addEventListener('variantchanged', refresh);
    video.addEventListener('timeupdate', refresh);
    state.select = function (index) {
      state.autoLevel = index < 0;
      sp.configure({ abr: { enabled: index < 0 } });
      var track = sp.getVariantTracks().filter(function (t) { return keyOf(t) === keys[index]; })[0];
      if (track) sp.selectVariantTrack(track, true);
      picker.value = String(index);
    };
    sp.attach(video).then(function () { return sp.load(manifest); }).then(function () {
      var levels = [];
      sp.getVariantTracks().forEach(function (t) {
        if (keys.indexOf(keyOf(t)) >= 0) return;
        keys.push(keyOf(t));
        var bitrate = t.videoId !== null && t.videoId !== undefined ? t.videoBandwidth || t.bandwidth : t.audioBandwidth || t.bandwidth;
        levels.push({ label: levelLabel(t.height, bitrate, [t.videoCodec, t.audioCodec].filter(Boolean).join(',')), width: t.width || 0, height: t.height || 0, bitrate: bitrate });
      });
      setLevels(levels);
      refresh();
      video.play().catch(function (e) { fail('play', String(e), false); });
    }).catch(function (e) {
      fail('shaka load ' + (e && e.category) + '/' + (e && e.code), JSON.stringify((e && e.data) || String(e)).slice(0, 300), true);
    });
  }
  picker.addEventListener('change', function () { state.select(Number(picker.value)); });
  video.addEventListener('error', function () { fail('video element', video.error ? video.error.message || String(video.error.code) : 'error', true); });
  video.addEventListener('timeupdate', function () {
    if (video.duration) seekbar.value = String(Math.round((video.currentTime / video.duration) * 1000));
    showInfo();
  });

  // Storyboard: WebVTT cues whose text is "sprite.jpg#xywh=x,y,w,h", resolved against the track's URL.
  var seekbar = document.getElementById('vp-seekbar');
  var thumb = document.getElementById('vp-thumb');
  var trackElement = document.getElementById('vp-storyboard');
  var cues = [];
  if (trackElement) {
    trackElement.track.mode = 'hidden';
    var loaded = function () {
      var list = trackElement.track.cues;
      cues = list ? Array.prototype.slice.call(list) : [];
      state.storyboardCues = cues.length;
    };
    trackElement.addEventListener('load', loaded);
    trackElement.addEventListener('error', function () { fail('storyboard', 'could not load ' + trackElement.src, true); });
    if (trackElement.readyState === 2) loaded();
  }
  function cueAt(time) {
    for (var i = 0; i < cues.length; i++) if (cues[i].startTime <= time && time < cues[i].endTime) return cues[i];
    return cues[cues.length - 1];
  }
  seekbar.addEventListener('input', function () {
    if (video.duration) video.currentTime = (Number(seekbar.value) / 1000) * video.duration;
  });
  seekbar.addEventListener('mousemove', function (event) {
    if (!cues.length || !video.duration) return;
    var box = seekbar.getBoundingClientRect();
    var fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    var time = fraction * video.duration;
    var cue = cueAt(time);
    var match = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(cue.text.trim());
    if (!match) return;
    var sprite = new URL(match[1], trackElement.src).href;
    var w = Number(match[4]), h = Number(match[5]);
    thumb.style.backgroundImage = 'url("' + sprite + '")';
    thumb.style.backgroundPosition = '-' + match[2] + 'px -' + match[3] + 'px';
    thumb.style.width = w + 'px';
    thumb.style.height = h + 'px';
    thumb.style.left = Math.min(box.width - w, Math.max(0, fraction * box.width - w / 2)) + 'px';
    thumb.firstChild.textContent = time.toFixed(1) + ' s';
    thumb.style.display = 'block';
    state.thumbnail = { sprite: sprite, x: Number(match[2]), y: Number(match[3]), w: w, h: h, time: time };
  });
  seekbar.addEventListener('mouseleave', function () { thumb.style.display = 'none'; });
})();
`;
