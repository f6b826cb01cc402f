// /docs: Swagger UI over this Medic's own OpenAPI document. No validator badge: it
// would send the document to validator.swagger.io.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.medicApiDocs = SwaggerUIBundle({
    url: root.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
  });
});
