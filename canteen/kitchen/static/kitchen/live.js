// Attach hls.js to every <video data-hls> on the page (Safari plays HLS natively).
(function () {
  "use strict";
  function attach(video) {
    var src = video.dataset.hls;
    if (window.Hls && window.Hls.isSupported()) {
      var live = video.dataset.live === "1";
      var hls = new window.Hls(live ? { liveSyncDurationCount: 2, maxLiveSyncPlaybackRate: 1.5, lowLatencyMode: true } : {});
      hls.on(window.Hls.Events.ERROR, function (_e, data) {
        if (!data.fatal) return;
        video.closest("[data-tile]") && video.closest("[data-tile]").classList.add("tile-error");
        // A relay restart: retry the playlist after a moment instead of giving up.
        setTimeout(function () { hls.destroy(); attach(video); }, 3000);
      });
      hls.loadSource(src);
      hls.attachMedia(video);
      video._hls = hls;
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;
    }
    video.muted = true;
    var p = video.play();
    if (p && p.catch) p.catch(function () {});
  }
  document.querySelectorAll("video[data-hls]").forEach(attach);
})();
