// /docs and /redoc: start Swagger UI or ReDoc with the options the service put in the page's
// JSON block (app/console/docs.py). A file, not an inline script: the page's policy runs none.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("api-docs-config").textContent);
  const root = document.getElementById("api-docs");
  if (config.viewer === "swagger-ui") {
    const presets = [SwaggerUIBundle.presets.apis];
    window.ui = SwaggerUIBundle({ ...config.options, domNode: root, presets });
  } else {
    Redoc.init(config.options.specUrl, config.options, root);
  }
})();
