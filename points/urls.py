from django.urls import path

from points import views

app_name = "points"
urlpatterns = [
    path("", views.home, name="home"),
    path("claim/", views.claim_page, name="claim"),
    path("redemptions/", views.redemptions_page, name="redemptions"),
    path("redemptions/<int:redemption_id>/cancel/", views.redemption_cancel, name="cancel"),
    path("redemptions/<int:redemption_id>/collect/", views.redemption_collect, name="collect"),
    path("shops/<int:shop_id>/", views.shop_page, name="shop"),
    path("shops/<int:shop_id>/reserve/", views.reserve, name="reserve"),
    path("manage/", views.manage_page, name="manage"),
    path("manage/adjust/", views.adjust, name="adjust"),
    path("claims/<int:claim_id>/decide/", views.claim_decide, name="decide"),
    path("counter/<int:shop_id>/", views.counter_page, name="counter"),
    path("counter/<int:shop_id>/redeem/", views.counter_redeem, name="counter_redeem"),
    path("counter/<int:shop_id>/goods/", views.goods_add, name="goods_add"),
    path("goods/<int:goods_id>/stock/", views.goods_stock, name="goods_stock"),
    path("goods/<int:goods_id>/sale/", views.goods_sale, name="goods_sale"),
    path("ranking/", views.ranking_page, name="ranking"),
    path("nominations/", views.nominate, name="nominate"),
    path("nominations/<int:nomination_id>/<slug:decision>/", views.nomination_decide, name="nomination_decide"),
    path("report/", views.report_page, name="report"),
]
